import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { type Job, JOB_ID_PATTERN, JOB_STATUSES, MAX_PAGE_SIZE, publicParametersSchema } from '@image-service/foundation'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses, ImageIdSchema, StringEnum, Timestamp } from '../http/schemas.ts'

const JobIdSchema = Type.String({ pattern: JOB_ID_PATTERN, minLength: 26, maxLength: 26, description: 'ULID' })
const JobIdParams = Type.Object({ job_id: JobIdSchema }, { additionalProperties: false })

export const JobResponse = Type.Object(
  {
    job_id: JobIdSchema,
    image_id: ImageIdSchema,
    workflow_id: Type.String(),
    parameters: Type.Object({}, { additionalProperties: true, description: 'As the caller sent them' }),
    status: StringEnum(JOB_STATUSES),
    attempts: Type.Integer({ minimum: 0, description: "Our submissions to the provider (not its client's own retries)" }),
    result_image_ids: Type.Array(ImageIdSchema, { description: 'The derived images (each an Image with source_image_id and job_id)' }),
    error: Type.Union(
      [
        Type.Object(
          {
            code: Type.String(),
            message: Type.String(),
            results: Type.Optional(
              Type.Array(Type.Object({ image_id: ImageIdSchema, reason: Type.String() }, { additionalProperties: false }), {
                description: 'Each result that did not become ready, and why',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'Why the job failed; null otherwise' },
    ),
    created_at: Timestamp('RFC 3339, UTC'),
    started_at: Type.Union([Timestamp('When fal took the job'), Type.Null()]),
    completed_at: Type.Union([Timestamp('When the job reached a final status'), Type.Null()]),
    processing_time_ms: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'completed_at - started_at' }),
  },
  { title: 'Job', additionalProperties: false },
)
export type JobResponse = Static<typeof JobResponse>

export function toJobResponse(job: Job): JobResponse {
  return {
    job_id: job.id,
    image_id: job.imageId,
    workflow_id: job.workflowId,
    parameters: { ...job.parameters },
    status: job.status,
    attempts: job.attempts,
    result_image_ids: [...job.resultImageIds],
    error: job.error,
    created_at: job.createdAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    completed_at: job.completedAt?.toISOString() ?? null,
    processing_time_ms:
      job.startedAt !== null && job.completedAt !== null ? Math.max(0, job.completedAt.getTime() - job.startedAt.getTime()) : null,
  }
}

/** Shape only; the workflow's own schema is checked in foundation, which names every problem (INVALID_PARAMETERS). */
export const StartJobBody = Type.Object(
  {
    image_id: Type.String({ description: 'A ready image of the caller' }),
    workflow_id: Type.String({ maxLength: 64, description: 'One of GET /processing/workflows' }),
    parameters: Type.Optional(Type.Unknown({ description: "Checked against the workflow's parameters_schema" })),
  },
  { additionalProperties: false },
)

const WorkflowsResponse = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          name: Type.String(),
          description: Type.String(),
          parameters_schema: Type.Object(
            {},
            {
              additionalProperties: true,
              description: 'JSON Schema of `parameters`; each property the workflow fills in by default carries that value as `default`',
            },
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)

const JobListQuery = Type.Object(
  {
    image_id: Type.Optional(ImageIdSchema),
    status: Type.Optional(StringEnum(JOB_STATUSES)),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'next_cursor of the previous page' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: `1..${MAX_PAGE_SIZE}, default 20` })),
  },
  { additionalProperties: false },
)
const JobListResponse = Type.Object(
  { items: Type.Array(JobResponse), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: false },
)
const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ description: 'A retried start with the same key returns the same job' })),
})

export const processingRoutes: FastifyPluginAsyncTypebox<{
  container: Pick<ApiContainer, 'listWorkflows' | 'startJob' | 'getJob' | 'cancelJob' | 'listJobs'>
}> = async (app, { container }) => {
  app.get(
    '/api/image/v1/processing/workflows',
    {
      schema: {
        tags: ['processing'],
        summary: 'The AI workflows a job may run',
        response: { 200: WorkflowsResponse, ...errorResponses(401) },
      },
    },
    async () => ({
      items: container
        .listWorkflows()
        .map((w) => ({ id: w.id, name: w.name, description: w.description, parameters_schema: publicParametersSchema(w) })),
    }),
  )

  app.post(
    '/api/image/v1/processing/start',
    {
      schema: {
        tags: ['processing'],
        summary: 'Start an AI workflow on a ready image of the caller',
        body: StartJobBody,
        headers: IdempotencyHeaders,
        response: { 202: JobResponse, ...errorResponses(400, 401, 404, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      const job = await container.startJob(requestContext(request), {
        imageId: request.body.image_id,
        workflowId: request.body.workflow_id,
        parameters: request.body.parameters,
        idempotencyKey: request.headers['idempotency-key'],
      })
      return reply.code(202).send(toJobResponse(job))
    },
  )

  app.get(
    '/api/image/v1/processing/:job_id/status',
    {
      schema: {
        tags: ['processing'],
        summary: 'A job of the caller',
        params: JobIdParams,
        response: { 200: JobResponse, ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request) => toJobResponse(await container.getJob(requestContext(request), request.params.job_id)),
  )

  app.post(
    '/api/image/v1/processing/:job_id/cancel',
    {
      schema: {
        tags: ['processing'],
        summary: 'Cancel a queued or running job: cancelled at once; the provider is told, late results discarded',
        params: JobIdParams,
        response: { 202: JobResponse, ...errorResponses(400, 401, 404, 409, 503) },
      },
    },
    async (request, reply) =>
      reply.code(202).send(toJobResponse(await container.cancelJob(requestContext(request), request.params.job_id))),
  )

  app.get(
    '/api/image/v1/processing/jobs',
    {
      schema: {
        tags: ['processing'],
        summary: "The caller's jobs, newest first",
        querystring: JobListQuery,
        response: { 200: JobListResponse, ...errorResponses(400, 401, 503) },
      },
    },
    async (request) => {
      const page = await container.listJobs(requestContext(request), {
        imageId: request.query.image_id,
        status: request.query.status,
        cursor: request.query.cursor,
        limit: request.query.limit === undefined ? undefined : Number(request.query.limit),
      })
      return { items: page.items.map(toJobResponse), next_cursor: page.nextCursor }
    },
  )
}
