import type { paths } from './schema.ts'

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never

/** An image as the status route answers it. */
export type Image = Json<paths['/api/image/v1/images/{image_id}']['get']['responses'][200]>
/** An AI processing job as the processing routes answer it. */
export type Job = Json<paths['/api/image/v1/processing/{job_id}/status']['get']['responses'][200]>
/** One entry of the caller's event log (also what each SSE message carries). */
export type ImageServiceEvent = Json<paths['/api/image/v1/events']['get']['responses'][200]>['items'][number]
