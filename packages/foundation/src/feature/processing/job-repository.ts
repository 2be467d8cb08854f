import type { RequestContext } from '../../shared/identity/request-context.ts'
import type { ImageId } from '../../shared/image/image.ts'
import type { Job, JobError, JobId, JobStatus } from './job.ts'

export type NewJob = Pick<Job, 'id' | 'ownerId' | 'imageId' | 'workflowId' | 'model' | 'parameters' | 'input'> & {
  idempotencyKey?: string | undefined
  requestFingerprint?: string | undefined
}

/** What insertQueued decided, in the transaction that also checked the image and the cap. */
export type StartDecision =
  | { outcome: 'created'; job: Job }
  /** A job with this Idempotency-Key exists; `sameRequest` compares its fingerprint. */
  | { outcome: 'existing'; job: Job; sameRequest: boolean }
  | { outcome: 'image_missing' }
  | { outcome: 'image_not_ready'; status: string }
  | { outcome: 'too_many'; active: number }

export type JobListQuery = {
  ownerId: string
  imageId?: ImageId | undefined
  status?: JobStatus | undefined
  before?: JobId | undefined
  limit: number
}

/** A move of the runner's: only from `from`, with its event in the same transaction. */
export type JobMove = { to: 'running'; providerRequestId: string } | { to: 'succeeded' } | { to: 'failed'; error: JobError }

/**
 * Port: where jobs live. Every status change appends its event (job.queued, job.running,
 * job.succeeded, job.failed, job.cancelled) and, for the caller's own actions, its audit row
 * (job.started, job.cancelled), in the same transaction as the change.
 */
export interface JobRepository {
  /**
   * One transaction: the owner's jobs are serialised (a lock per owner), an existing job of
   * the same Idempotency-Key is returned, the image must be the owner's and ready, the
   * owner's queued and running jobs must be under `maxActive`; then the job, its event and
   * its audit row are inserted.
   */
  insertQueued(job: NewJob, options: { maxActive: number }, ctx: RequestContext): Promise<StartDecision>
  findOwned(ownerId: string, id: JobId): Promise<Job | null>
  findById(id: JobId): Promise<Job | null>
  findByProviderRequestId(requestId: string): Promise<Job | null>
  list(query: JobListQuery): Promise<Job[]>
  /** queued or running -> cancelled, with its event and audit row; null when already final. */
  cancel(id: JobId, ctx: RequestContext): Promise<Job | null>
  /** `from` -> the move's status; null when the job was no longer in `from` (someone else moved it). */
  move(id: JobId, from: JobStatus, move: JobMove): Promise<Job | null>
  /** Takes the job for `seconds`, unless another runner holds it; null then. */
  lease(id: JobId, seconds: number): Promise<Job | null>
  release(id: JobId): Promise<void>
  /** Counts one of our submissions. */
  countAttempt(id: JobId): Promise<Job | null>
  /** Sets the result ids once: a second call keeps the first ids and returns them. */
  planResults(id: JobId, ids: readonly ImageId[]): Promise<ImageId[]>
  markResultsStored(id: JobId): Promise<void>
  markProviderCancelled(id: JobId): Promise<void>
  /**
   * Keeps the id of a fal request the job did not move to `running` with (it was cancelled
   * meanwhile), unless it has one: whoever cancels the job at fal next finds it.
   */
  keepProviderRequest(id: JobId, requestId: string): Promise<void>
  /** True while the owner's erasure (owner/erase) is under way: the runner stores nothing for them. */
  ownerErasing(ownerId: string): Promise<boolean>
  /**
   * fal's webhook: true the first time a request_id is seen. `jobId` null: no job has that
   * request id yet (the webhook came before the runner stored it, or it is not ours).
   */
  recordWebhook(requestId: string, jobId: JobId | null): Promise<boolean>
  /** Whether a webhook for this request id was received (possibly before any job had it). */
  webhookReceived(requestId: string): Promise<boolean>
  forgetWebhook(requestId: string): Promise<void>
}
