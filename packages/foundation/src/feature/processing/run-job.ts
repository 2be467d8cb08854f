import { fileTypeFromBuffer } from 'file-type'
import { isAppError } from '../../common/errors.ts'
import type { Logger } from '../../common/logger.ts'
import { type RequestContext, systemContext } from '../../shared/identity/request-context.ts'
import {
  type ImageContentType,
  type ImageId,
  type ImageRecord,
  isAllowedContentType,
  newImageId,
  objectKeyFor,
} from '../../shared/image/image.ts'
import type { ImageRepository } from '../../shared/image/image-repository.ts'
import { QuotaExceededError, type QuotaLimits } from '../../shared/image/usage.ts'
import type { QueueSender } from '../../shared/queue/sqs-sender.ts'
import { backoffSeconds, type CircuitBreaker } from './circuit-breaker.ts'
import { downloadOutput } from './download-output.ts'
import type { Job, JobError, JobId } from './job.ts'
import type { JobMessage } from './job-message.ts'
import type { JobRepository } from './job-repository.ts'
import { type ProcessingProvider, type ProviderOutput, ProviderError } from './provider.ts'
import type { ResultStorage } from './result-storage.ts'

export type RunnerSettings = {
  /** FAL_SOURCE_URL_TTL_SECONDS: how long fal may take to fetch the source. */
  sourceUrlTtlSeconds: number
  /** PUBLIC_BASE_URL + the receiver's path; undefined: follow by polling. */
  webhookUrl: string | undefined
  /** Seconds between status polls, and between looks at results still being validated. */
  pollIntervalSeconds: number
  /** With a webhook: how long to wait for it before polling instead. */
  webhookTimeoutSeconds: number
  /** JOB_MAX_ATTEMPTS: our submissions per job. */
  maxAttempts: number
  retryBaseSeconds: number
  retryMaxSeconds: number
  /** How long one runner holds a job; a crashed runner's lease runs out after this. */
  leaseSeconds: number
  maxUploadBytes: number
  downloadTimeoutMs: number
  /** Plain-http outputs are accepted only from a local provider (FAL_BASE_URL). */
  allowHttpOutputs: boolean
  quota: QuotaLimits
}

/** What one look at a job did: a value, for the log line, the metrics and the tests' spy. */
export type RunOutcome = {
  outcome: 'running' | 'succeeded' | 'failed' | 'cancelled' | 'deferred' | 'skipped' | 'retry'
  reason?: string
}

/** A later look at the job: a new delayed message (the current one is acknowledged). */
const MAX_DELAY_SECONDS = 900

/**
 * The runner: one look at a job, doing the next step its state calls for. Every step is
 * idempotent, so a redelivered, duplicated or late message is harmless, and a processor
 * killed anywhere is repaired by the next look (once its lease ran out):
 *
 *   queued    -> (breaker closed) presign the source, submit, `running`
 *   running   -> poll fal (or wait for its webhook); on completion choose the result ids once,
 *                download each output with bounds, store it as a new upload of the owner
 *                (quota reserved, same validation as any upload); then wait for the results'
 *                verdicts: all ready -> `succeeded`, any failed -> `failed` with the reasons
 *   cancelled -> discard results that arrived late, and cancel at fal: a cancel fal does not
 *                take (429, 5xx, network) is tried again (the message is left for redelivery)
 *
 * An owner being erased (owner/erase) gets no results: a queued or running job of theirs is
 * cancelled (at fal too) when the runner next looks at it, or before its next result is
 * stored. The sweeper erases such jobs only once no runner holds them, so a result stored a
 * moment before is counted by the erasure and goes with the owner's images.
 */
export function createJobRunner(deps: {
  jobs: JobRepository
  images: ImageRepository
  storage: ResultStorage
  provider: ProcessingProvider
  breaker: CircuitBreaker
  queue: QueueSender<JobMessage>
  settings: RunnerSettings
  log: Logger
  random?: () => number
}) {
  const { jobs, images, storage, provider, breaker, settings } = deps

  const later = async (job: Job, seconds: number, reason: JobMessage['reason'], why: string): Promise<RunOutcome> => {
    await deps.queue.sendMessage(
      { type: 'job', job_id: job.id, reason },
      { delaySeconds: Math.max(0, Math.min(MAX_DELAY_SECONDS, Math.round(seconds))) },
    )
    return { outcome: job.status === 'queued' ? 'deferred' : 'running', reason: why }
  }

  const fail = async (job: Job, error: JobError): Promise<RunOutcome> => {
    const moved = await jobs.move(job.id, job.status, { to: 'failed', error })
    if (moved === null) return afterRace(job)
    deps.log.info({ jobId: job.id, code: error.code }, 'job failed')
    return { outcome: 'failed', reason: error.code }
  }

  /** The job moved under us (a cancel): look again at what it is now. */
  const afterRace = async (job: Job): Promise<RunOutcome> => {
    const now = await jobs.findById(job.id)
    if (now?.status === 'cancelled') return discard(now)
    return { outcome: 'skipped', reason: now?.status ?? 'missing' }
  }

  const discard = async (job: Job, reason?: string): Promise<RunOutcome> => {
    const ctx = systemContext('processor', `job:${job.id}`)
    for (const id of job.resultImageIds) {
      const record = await images.findById(id)
      if (record === null || record.status === 'deleted') continue
      await images.markDeleted(id, ctx)
      await storage.deleteResult(record.objectKey)
    }
    if (job.providerRequestId !== null && job.providerCancelledAt === null) {
      const taken = await provider.cancel(job.model, job.providerRequestId).then(
        () => true,
        (error: unknown) => {
          // A refusal (4xx): fal finished the request or does not know it; it runs no longer,
          // and whatever it made is never fetched.
          if (error instanceof ProviderError && error.kind === 'rejected') return true
          if (!(error instanceof ProviderError)) throw error
          deps.log.warn({ jobId: job.id, reason: error.message }, 'fal did not take the cancel; trying again')
          return false
        },
      )
      if (!taken) return { outcome: 'retry', reason: 'provider_cancel_failed' }
      await jobs.markProviderCancelled(job.id)
    }
    return reason === undefined ? { outcome: 'cancelled' } : { outcome: 'cancelled', reason }
  }

  /** The owner is being erased: the job ends cancelled, at fal too, and keeps no result. */
  const stopForErasure = async (job: Job): Promise<RunOutcome> => {
    const cancelled = await jobs.cancel(job.id, systemContext('processor', 'owner-erasure'))
    if (cancelled === null) return afterRace(job)
    deps.log.info({ jobId: job.id }, 'job cancelled: its owner is being erased')
    return discard(cancelled, 'owner_erased')
  }

  const submit = async (job: Job): Promise<RunOutcome> => {
    const wait = breaker.waitSeconds()
    // An open breaker is not an attempt: the job waits, it does not fail.
    if (wait > 0) return later(job, wait, 'retry', 'breaker_open')
    if (job.attempts >= settings.maxAttempts) {
      return fail(job, { code: 'PROVIDER_UNAVAILABLE', message: `fal did not take the job after ${job.attempts} attempts` })
    }
    const source = await images.findById(job.imageId)
    if (source === null || source.status !== 'ready') {
      return fail(job, { code: 'SOURCE_GONE', message: 'the source image is no longer ready' })
    }
    const imageUrl = await storage.presignSourceGet(source.objectKey, settings.sourceUrlTtlSeconds)
    const counted = (await jobs.countAttempt(job.id)) ?? job
    let requestId: string
    try {
      ;({ requestId } = await provider.submit(job.model, { ...job.input, image_url: imageUrl }, { webhookUrl: settings.webhookUrl }))
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error
      if (error.kind === 'rejected') {
        breaker.succeeded()
        return fail(counted, { code: 'PROVIDER_REJECTED', message: error.message })
      }
      breaker.failed()
      deps.log.warn({ jobId: job.id, attempt: counted.attempts, status: error.status, reason: error.message }, 'fal submit failed')
      if (counted.attempts >= settings.maxAttempts) {
        return fail(counted, {
          code: 'PROVIDER_UNAVAILABLE',
          message: `fal did not take the job after ${counted.attempts} attempts: ${error.message}`,
        })
      }
      const delay = backoffSeconds(counted.attempts, {
        baseSeconds: settings.retryBaseSeconds,
        maxSeconds: settings.retryMaxSeconds,
        random: deps.random,
      })
      return later(counted, delay, 'retry', 'provider_unavailable')
    }
    breaker.succeeded()
    const running = await jobs.move(job.id, 'queued', { to: 'running', providerRequestId: requestId })
    if (running === null) {
      // Cancelled while we were submitting: the request id is kept on the job, so the cancel
      // at fal below (or a later look, or the erasure sweep) can be tried again.
      await jobs.keepProviderRequest(job.id, requestId)
      if ((await jobs.findById(job.id)) === null) {
        // The job is gone (its owner erased): nothing else knows this request.
        await provider.cancel(job.model, requestId).catch((error: unknown) => {
          deps.log.warn({ jobId: job.id, reason: (error as Error).message }, 'fal did not take the cancel of a job that is gone')
        })
        return { outcome: 'cancelled', reason: 'job_gone' }
      }
      return afterRace(job)
    }
    deps.log.info({ jobId: job.id, requestId, attempt: counted.attempts }, 'job submitted to fal')
    // fal's webhook may have come before the request id was stored (it was kept for us then):
    // follow the job now rather than wait for a webhook that already came.
    if (settings.webhookUrl !== undefined && !(await jobs.webhookReceived(requestId))) {
      return later(running, settings.webhookTimeoutSeconds, 'poll', 'awaiting_webhook')
    }
    return follow(running)
  }

  const follow = async (job: Job): Promise<RunOutcome> => {
    if (job.resultsStoredAt !== null) return settle(job)
    const requestId = job.providerRequestId
    if (requestId === null) return fail(job, { code: 'INTERNAL', message: 'a running job without a provider request' })
    let outputs: ProviderOutput[]
    try {
      const status = await provider.status(job.model, requestId)
      if (status !== 'COMPLETED') return later(job, settings.pollIntervalSeconds, 'poll', status.toLowerCase())
      outputs = await provider.result(job.model, requestId)
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error
      if (error.kind === 'rejected') return fail(job, { code: 'PROVIDER_REJECTED', message: error.message })
      return later(job, settings.pollIntervalSeconds, 'poll', 'provider_unavailable')
    }
    if (await jobs.ownerErasing(job.ownerId)) return stopForErasure(job)
    const ids = await jobs.planResults(
      job.id,
      outputs.map(() => newImageId()),
    )
    const ctx = systemContext('processor', `job:${job.id}`)
    for (const [index, output] of outputs.entries()) {
      const id = ids[index]
      if (id === undefined) break
      if (await jobs.ownerErasing(job.ownerId)) return stopForErasure({ ...job, resultImageIds: ids })
      const stored = await storeResult(job, output, id, index, ctx)
      if (stored === 'quota_exceeded') {
        await discardResults(ids, ctx)
        return fail(job, { code: 'QUOTA_EXCEEDED', message: 'the owner is over quota: the results could not be kept' })
      }
    }
    await jobs.markResultsStored(job.id)
    return settle({ ...job, resultImageIds: ids, resultsStoredAt: new Date() })
  }

  /** One output -> a record (quota reserved) and an object; a redelivery finds what it did before. */
  const storeResult = async (job: Job, output: ProviderOutput, id: ImageId, index: number, ctx: RequestContext) => {
    const existing = await images.findById(id)
    if (existing !== null && existing.status !== 'pending') return 'done'
    const downloaded = await downloadOutput(output.url, {
      maxBytes: settings.maxUploadBytes,
      timeoutMs: settings.downloadTimeoutMs,
      allowHttp: settings.allowHttpOutputs,
    })
    const bytes = downloaded.outcome === 'ok' ? downloaded.bytes : undefined
    const contentType = bytes === undefined ? 'image/png' : await contentTypeOf(bytes, output.contentType)
    const record: ImageRecord | null =
      existing ??
      (await images
        .saveWithinQuota(
          {
            id,
            ownerId: job.ownerId,
            contentType,
            fileName: `${job.workflowId}-${index + 1}.${contentType.slice('image/'.length)}`,
            objectKey: objectKeyFor(id),
            sourceImageId: job.imageId,
            jobId: job.id,
            reservedBytes: bytes?.byteLength ?? 0,
          },
          settings.quota,
          ctx,
        )
        .catch((error: unknown) => {
          if (error instanceof QuotaExceededError) return null
          throw error
        }))
    if (record === null) return 'quota_exceeded'
    if (bytes === undefined) {
      // Never stored: the result fails like an upload whose object is not what was promised.
      const reason = downloaded.outcome === 'too_large' ? 'too_large' : 'missing_object'
      await images.transitionFromPending(id, { status: 'failed', failureReason: reason }, ctx)
      return 'done'
    }
    // Validation (and variants) follow from the storage event, exactly as for a client's PUT.
    await storage.putResult(record.objectKey, bytes, record.contentType)
    return 'done'
  }

  const discardResults = async (ids: readonly ImageId[], ctx: RequestContext) => {
    for (const id of ids) {
      const record = await images.findById(id)
      if (record === null || record.status === 'deleted') continue
      await images.markDeleted(id, ctx)
      await storage.deleteResult(record.objectKey)
    }
  }

  const settle = async (job: Job): Promise<RunOutcome> => {
    const records = await images.findOwnedByIds(job.ownerId, job.resultImageIds)
    if (records.length < job.resultImageIds.length || records.some((r) => r.status === 'pending')) {
      return later(job, settings.pollIntervalSeconds, 'results', 'validating_results')
    }
    const failed = records.filter((r) => r.status !== 'ready')
    if (failed.length === 0) {
      const moved = await jobs.move(job.id, 'running', { to: 'succeeded' })
      if (moved === null) return afterRace(job)
      deps.log.info({ jobId: job.id, results: records.length }, 'job succeeded')
      return { outcome: 'succeeded' }
    }
    return fail(job, {
      code: 'RESULTS_FAILED',
      message: `${failed.length} of ${records.length} results did not pass validation`,
      results: failed.map((r) => ({ image_id: r.id, reason: r.failureReason ?? r.status })),
    })
  }

  return async (jobId: JobId): Promise<RunOutcome> => {
    const seen = await jobs.findById(jobId)
    if (seen === null) return { outcome: 'skipped', reason: 'missing' }
    if (seen.status === 'succeeded' || seen.status === 'failed') return { outcome: 'skipped', reason: seen.status }
    if (
      seen.status === 'cancelled' &&
      seen.resultImageIds.length === 0 &&
      (seen.providerRequestId === null || seen.providerCancelledAt !== null)
    ) {
      return { outcome: 'skipped', reason: 'cancelled' }
    }
    const job = await jobs.lease(jobId, settings.leaseSeconds)
    // Another runner is on it (a duplicate message): look again once its lease could be over.
    if (job === null) return later(seen, Math.min(settings.leaseSeconds, settings.pollIntervalSeconds + 1), 'retry', 'leased')
    try {
      if ((job.status === 'queued' || job.status === 'running') && (await jobs.ownerErasing(job.ownerId))) {
        return await stopForErasure(job)
      }
      switch (job.status) {
        case 'queued':
          return await submit(job)
        case 'running':
          return await follow(job)
        case 'cancelled':
          return await discard(job)
        default:
          return { outcome: 'skipped', reason: job.status }
      }
    } catch (error) {
      // Storage, database or queue away: the message is left for redelivery.
      deps.log.warn({ jobId, err: error }, 'job step failed; retrying')
      return { outcome: 'retry', reason: isAppError(error) ? error.code : 'UNEXPECTED' }
    } finally {
      await jobs.release(jobId).catch(() => {})
    }
  }
}

export type JobRunner = ReturnType<typeof createJobRunner>

/** The type the bytes say, if it is one we accept; else the provider's word; else PNG. Validation decides. */
async function contentTypeOf(bytes: Uint8Array, declared: string | undefined): Promise<ImageContentType> {
  const sniffed = (await fileTypeFromBuffer(bytes))?.mime
  if (sniffed !== undefined && isAllowedContentType(sniffed)) return sniffed
  if (declared !== undefined && isAllowedContentType(declared)) return declared
  return 'image/png'
}
