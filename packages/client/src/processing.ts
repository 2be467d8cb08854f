import type { ImageServiceClient } from './client.ts'
import { JobFailedError, unwrap } from './errors.ts'
import { type WaitOptions, waitForFinal } from './follow.ts'
import type { Job } from './types.ts'

/**
 * Starts an AI workflow (one of `GET /processing/workflows`) on a ready image of the caller and
 * resolves with the queued Job. With an `idempotencyKey`, a retried start returns the same Job
 * instead of starting another. Errors: 400 `INVALID_PARAMETERS`, 404, 409 `IMAGE_NOT_READY`, 429.
 */
export async function startWorkflow(
  client: ImageServiceClient,
  request: { imageId: string; workflowId: string; parameters?: Record<string, unknown>; idempotencyKey?: string; signal?: AbortSignal },
): Promise<Job> {
  return unwrap(
    await client.POST('/api/image/v1/processing/start', {
      body: { image_id: request.imageId, workflow_id: request.workflowId, parameters: request.parameters ?? {} },
      params: { header: request.idempotencyKey === undefined ? {} : { 'idempotency-key': request.idempotencyKey } },
      signal: request.signal,
    }),
  )
}

/**
 * Resolves with the Job once it `succeeded` (its `result_image_ids` are ready images); rejects
 * with a JobFailedError carrying the job's `error` once it `failed` or was `cancelled`.
 */
export async function waitForJob(client: ImageServiceClient, jobId: string, options: WaitOptions = {}): Promise<Job> {
  const job = await waitForFinal(
    client,
    {
      subjectId: jobId,
      read: async (signal) =>
        unwrap(await client.GET('/api/image/v1/processing/{job_id}/status', { params: { path: { job_id: jobId } }, signal })),
      isFinal: (state) => state.status === 'succeeded' || state.status === 'failed' || state.status === 'cancelled',
    },
    options,
  )
  if (job.status === 'failed' || job.status === 'cancelled') throw new JobFailedError({ ...job, status: job.status })
  return job
}
