import { type RequestContext, requireUser } from '../../shared/identity/request-context.ts'
import { type ImageId, parseImageId } from '../../shared/image/image.ts'
import type { Logger } from '../../common/logger.ts'
import { pageScope } from '../image/library/page.ts'
import type { QueueSender } from '../../shared/queue/sqs-sender.ts'
import { type Job, JobAlreadyFinalError, JobNotFoundError, type JobStatus, parseJobId } from './job.ts'
import type { JobMessage } from './job-message.ts'
import type { JobRepository } from './job-repository.ts'
import type { WorkflowCatalog } from './workflows.ts'

/** Every route is scoped to its caller: another owner's job is a 404, exactly like a missing one. */
export function createGetJob(deps: { jobs: JobRepository }) {
  return async (ctx: RequestContext, jobId: string): Promise<Job> => {
    const owner = requireUser(ctx)
    const id = parseJobId(jobId)
    const job = await deps.jobs.findOwned(owner.ownerId, id)
    if (job === null) throw new JobNotFoundError(id)
    return job
  }
}

export function createListJobs(deps: { jobs: JobRepository }) {
  return async (
    ctx: RequestContext,
    query: { imageId?: string | undefined; status?: JobStatus | undefined; cursor?: string | undefined; limit?: number | undefined },
  ): Promise<{ items: Job[]; nextCursor: string | null }> => {
    const { ownerId, limit } = pageScope(ctx, { limit: query.limit })
    const imageId: ImageId | undefined = query.imageId === undefined ? undefined : parseImageId(query.imageId)
    const before = query.cursor === undefined ? undefined : parseJobId(query.cursor)
    const items = await deps.jobs.list({ ownerId, imageId, status: query.status, before, limit: limit + 1 })
    const page = items.slice(0, limit)
    return { items: page, nextCursor: items.length > limit ? (page.at(-1)?.id ?? null) : null }
  }
}

/**
 * Cancel marks the job cancelled at once (with its event and audit row); the runner then
 * cancels at fal, best effort, and discards whatever arrives late. The message is only a
 * wake-up: if it is lost, the runner still discards late results when it next sees the job.
 */
export function createCancelJob(deps: { jobs: JobRepository; queue: QueueSender<JobMessage> | undefined; log?: Logger }) {
  return async (ctx: RequestContext, jobId: string): Promise<Job> => {
    const owner = requireUser(ctx)
    const id = parseJobId(jobId)
    const existing = await deps.jobs.findOwned(owner.ownerId, id)
    if (existing === null) throw new JobNotFoundError(id)
    const cancelled = await deps.jobs.cancel(id, ctx)
    if (cancelled === null) {
      const now = await deps.jobs.findOwned(owner.ownerId, id)
      throw new JobAlreadyFinalError(id, now?.status ?? existing.status)
    }
    if (existing.status === 'running' && deps.queue !== undefined) {
      await deps.queue.sendMessage({ type: 'job', job_id: id, reason: 'cancel' }).catch((error: unknown) => {
        deps.log?.warn({ err: error, jobId: id }, 'cancel not handed to the runner; it cancels at fal when it next sees the job')
      })
    }
    return cancelled
  }
}

export function createListWorkflows(deps: { workflows: WorkflowCatalog }) {
  return () => deps.workflows.list()
}
