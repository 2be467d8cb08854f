import type postgres from 'postgres'
import type { ProcessorConfig } from '../../common/config.ts'
import type { Logger } from '../../common/logger.ts'
import { withDatabaseErrors } from '../../shared/database/database-errors.ts'
import { systemContext } from '../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../shared/image/image-repository.ts'
import type { ValidateImageMessage } from '../../shared/queue/messages.ts'
import type { QueueSender } from '../../shared/queue/sqs-sender.ts'
import type { CdnInvalidator } from '../image/library/cdn-invalidator.ts'
import { type ProcessingProvider, ProviderError } from '../processing/provider.ts'
import type { LifecycleStorage } from './lifecycle-storage.ts'
import { createSweepQueries, type RetainedTable } from './sweep-queries.ts'

export type SweepConfig = ProcessorConfig['processor']['lifecycle'] & {
  uploadUrlTtlSeconds: number
}

/** What one sweep did, by step: the log line, the metrics and the tests read it. */
export type SweepReport = {
  expired: number
  requeued: number
  multipartAborted: number
  objectsRemoved: number
  variantObjectsRemoved: number
  recordsPurged: number
  imagesRetired: number
  auditRowsPurged: number
  eventsPurged: number
  webhookAttemptsPurged: number
  webhookDeliveriesPurged: number
  /** fal webhook records older than a day. */
  falWebhooksPurged: number
  imagesErased: number
  apiKeysErased: number
  jobsErased: number
  /** Erased owners' fal requests cancelled at fal (or found finished there). */
  falRequestsCancelled: number
  /** Cancels fal did not take (429, 5xx, network): tried again on the next sweep. */
  falCancelsFailed: number
  erasuresCompleted: number
}

export type SweepStep = 'erasure' | 'multipart' | 'pending' | 'retention' | 'objects'

export type SweepResult =
  | { swept: true; report: SweepReport; durationMs: number; failedSteps: SweepStep[] }
  | { swept: false; reason: 'locked' }

// One sweeper at a time across every replica: a session-level advisory lock on this key,
// held on a reserved connection for the sweep and released after (or when the session dies).
const SWEEPER_LOCK_KEY = 7_301_952_114

const DAY_MS = 86_400_000

/**
 * The sweeper (DESIGN "Lifecycle"). Each step takes bounded batches, at most
 * `maxBatchesPerStep` per sweep, and every move it makes is one the api or the processor
 * makes too (pending-only transitions, idempotent deletes), so a sweep racing a delivery, a
 * client or another sweeper decides each record once.
 */
export function createSweeper(deps: {
  sql: postgres.Sql
  images: ImageRepository
  storage: LifecycleStorage
  queue: QueueSender<ValidateImageMessage>
  cdn: CdnInvalidator
  /**
   * fal, to cancel the requests of an erased owner's jobs; undefined (no FAL_KEY) erases the
   * jobs without cancelling at fal.
   */
  provider?: ProcessingProvider | undefined
  config: SweepConfig
  log: Logger
  now?: () => Date
  maxBatchesPerStep?: number
  onSwept?: (result: SweepResult) => void
}) {
  const { sql, images, storage, config, log } = deps
  const q = createSweepQueries(sql)
  const batch = config.batchSize
  const maxBatches = deps.maxBatchesPerStep ?? 10
  const clock = deps.now ?? (() => new Date())
  const ctx = systemContext('sweeper', 'sweep')
  const db = <T>(run: () => PromiseLike<T>) => withDatabaseErrors(run)
  const ago = (now: Date, ms: number) => new Date(now.getTime() - ms)

  /** Runs `once` until it handles fewer rows than a batch, or the per-sweep bound. */
  async function repeat(once: () => Promise<number>): Promise<void> {
    for (let i = 0; i < maxBatches; i++) if ((await once()) < batch) return
  }

  async function stalePending(now: Date, report: SweepReport) {
    const graceMs = config.graceSeconds * 1000
    const expiredBefore = ago(now, config.uploadUrlTtlSeconds * 1000 + graceMs)
    // Lost events: an object is there but no decision was made, a grace period after upload.
    // Only the batch's first pass: a re-queued record stays pending until the processor decides.
    const rows = await db(() => q.stalePending(ago(now, graceMs), batch))
    for (const row of rows) {
      if (await storage.objectExists(row.object_key)) {
        await deps.queue.sendMessage({ type: 'validate', image_id: row.id })
        report.requeued++
      } else if (!row.multipart && new Date(row.created_at) < expiredBefore) {
        if (await images.transitionFromPending(row.id, { status: 'failed', failureReason: 'expired' }, ctx)) report.expired++
      }
    }
  }

  async function abandonedMultipart(now: Date, report: SweepReport) {
    await repeat(async () => {
      const rows = await db(() => q.abandonedMultipart(ago(now, config.graceSeconds * 1000), batch))
      for (const row of rows) {
        await storage.abortMultipartUpload({ objectKey: row.object_key, uploadId: row.upload_id })
        if (row.status === 'pending') await images.transitionFromPending(row.image_id, { status: 'failed', failureReason: 'aborted' }, ctx)
        await db(() => q.markMultipartAborted(row.image_id))
        report.multipartAborted++
      }
      return rows.length
    })
  }

  async function objectsGone(now: Date, report: SweepReport) {
    const settledBefore = ago(now, (config.uploadUrlTtlSeconds + config.graceSeconds) * 1000)
    await repeat(async () => {
      const rows = await db(() => q.objectsToRemove(settledBefore, batch))
      const paths: string[] = []
      for (const row of rows) {
        await storage.deleteObject(row.object_key)
        // Variants live under variants/{image_id}/: deleted by prefix, whatever names they have.
        report.variantObjectsRemoved += await storage.deletePrefix(`variants/${row.id}/`)
        if (row.status === 'deleted') paths.push(`/${row.object_key}`, `/variants/${row.id}/*`)
      }
      // One invalidation for the batch (the invalidator batches further across callers).
      if (paths.length > 0) await deps.cdn.invalidate(paths)
      if (rows.length > 0) await db(() => q.markObjectsRemoved(rows.map((r) => r.id)))
      report.objectsRemoved += rows.length
      return rows.length
    })
  }

  async function retention(now: Date, report: SweepReport) {
    if (config.imageRetentionDays !== undefined) {
      const before = ago(now, config.imageRetentionDays * DAY_MS)
      await repeat(async () => {
        const rows = await db(() => q.expiredImages(before, batch))
        for (const row of rows) if (await images.markDeleted(row.id, ctx)) report.imagesRetired++
        return rows.length
      })
    }
    await repeat(async () => {
      const { count } = await db(() => q.purgeRecords(ago(now, config.recordRetentionDays * DAY_MS), batch))
      report.recordsPurged += count
      return count
    })
    // The append-only tables, each with its retention (see RetainedTable for what joins them).
    const retained: [RetainedTable, number, keyof SweepReport][] = [
      ['audit_events', config.auditRetentionDays, 'auditRowsPurged'],
      ['events', config.eventRetentionDays, 'eventsPurged'],
      ['webhook_attempts', config.eventRetentionDays, 'webhookAttemptsPurged'],
    ]
    for (const [table, days, counted] of retained) {
      await repeat(async () => {
        const { count } = await db(() => q.purgeOlderThan(table, ago(now, days * DAY_MS), batch))
        report[counted] += count
        return count
      })
    }
    // fal retries a webhook for 2 hours: a day later its record dedupes nothing (and one kept
    // for a request no job ever had, or for an erased owner's job, would stay forever).
    await repeat(async () => {
      const { count } = await db(() => q.purgeFalWebhooks(ago(now, DAY_MS), batch))
      report.falWebhooksPurged += count
      return count
    })
    await repeat(async () => {
      const { count } = await db(() => q.purgeFinishedDeliveries(ago(now, config.eventRetentionDays * DAY_MS), batch))
      report.webhookDeliveriesPurged += count
      return count
    })
  }

  /**
   * An erased owner's jobs: the active ones are cancelled at once, each fal request not yet
   * cancelled is cancelled at fal, and the jobs go with their events. A cancel fal does not
   * take (429, 5xx, network) leaves the job for the next sweep; one fal refuses (4xx: the
   * request finished or is unknown there) counts as done, since fal runs it no longer.
   */
  async function eraseJobs(ownerId: string, report: SweepReport): Promise<void> {
    const provider = deps.provider
    if (provider !== undefined) {
      let after = ''
      await repeat(async () => {
        const rows = await db(() => q.jobsToCancelAtFal(ownerId, after, batch))
        for (const row of rows) {
          after = row.id
          const cancelled = await provider.cancel(row.model, row.provider_request_id).then(
            () => true,
            (error: unknown) => {
              if (error instanceof ProviderError && error.kind === 'rejected') return true
              log.warn(
                { jobId: row.id, reason: (error as Error).message },
                'fal did not take the cancel of an erased job; the next sweep tries again',
              )
              return false
            },
          )
          if (cancelled) {
            await db(() => q.markProviderCancelled(row.id))
            report.falRequestsCancelled++
          } else report.falCancelsFailed++
        }
        return rows.length
      })
    }
    let erased = 0
    await repeat(async () => {
      const [{ count } = { count: 0 }] = await db(() => q.purgeErasedJobs(ownerId, provider !== undefined, batch))
      erased += count
      return count
    })
    report.jobsErased += erased
  }

  async function erasures(report: SweepReport) {
    for (const { owner_id: ownerId } of await db(() => q.openErasures(10))) {
      const { count: apiKeys } = await db(() => q.deleteApiKeys(ownerId))
      // Jobs are cancelled first: a runner takes a cancelled job no further.
      await db(() => q.cancelOwnerJobs(ownerId))
      let erased = 0
      await repeat(async () => {
        const rows = await db(() => q.erasableImages(ownerId, batch))
        for (const row of rows) {
          await images.markDeleted(row.id, ctx)
          erased++
        }
        return rows.length
      })
      // Records whose objects the previous step confirmed gone; the others wait for it.
      await repeat(async () => (await db(() => q.purgeErasedRecords(ownerId, batch))).count)
      // After the images: a job a runner holds stays until it lets go, and whatever result it
      // stored before that is counted below, so the erasure is not done while either is left.
      await eraseJobs(ownerId, report)
      const [{ count: records } = { count: 0 }] = await db(() => q.remainingRecords(ownerId))
      const [{ count: jobs } = { count: 0 }] = await db(() => q.remainingJobs(ownerId))
      const done = records === 0 && jobs === 0
      await db(() => q.countErased(ownerId, erased, apiKeys, done))
      report.imagesErased += erased
      report.apiKeysErased += apiKeys
      if (done) report.erasuresCompleted++
    }
  }

  async function sweepOnce(): Promise<SweepResult> {
    const lock = await db(() => sql.reserve())
    try {
      const [row] = await db(() => lock<{ locked: boolean }[]>`SELECT pg_try_advisory_lock(${SWEEPER_LOCK_KEY}) AS locked`)
      if (row?.locked !== true) {
        const result: SweepResult = { swept: false, reason: 'locked' }
        deps.onSwept?.(result)
        return result
      }
      try {
        const started = performance.now()
        const now = clock()
        const report = emptyReport()
        const failedSteps: SweepStep[] = []
        // A step that fails (storage or the database away) is logged and left for the next
        // sweep; the other steps still run. Erasure first: the records it deletes are then
        // aborted and removed by the later steps.
        const steps: [SweepStep, () => Promise<void>][] = [
          ['erasure', () => erasures(report)],
          ['multipart', () => abandonedMultipart(now, report)],
          ['pending', () => stalePending(now, report)],
          ['retention', () => retention(now, report)],
          ['objects', () => objectsGone(now, report)],
        ]
        for (const [step, run] of steps) {
          await run().catch((error: unknown) => {
            failedSteps.push(step)
            log.warn({ err: error, step }, 'sweep step failed; the next sweep takes it up again')
          })
        }
        const result: SweepResult = { swept: true, report, durationMs: Math.round(performance.now() - started), failedSteps }
        log.info({ ...report, failedSteps, durationMs: result.durationMs }, 'sweep finished')
        deps.onSwept?.(result)
        return result
      } finally {
        await lock`SELECT pg_advisory_unlock(${SWEEPER_LOCK_KEY})`.catch(() => undefined)
      }
    } finally {
      lock.release()
    }
  }

  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> | undefined
  let stopped = false
  return {
    sweepOnce,
    /** Sweeps every SWEEP_INTERVAL_SECONDS, the first one at once; a failed sweep is logged and retried next time. */
    start() {
      const tick = () => {
        if (stopped) return
        running = sweepOnce()
          .catch((error: unknown) => log.error({ err: error }, 'sweep failed'))
          .finally(() => {
            running = undefined
            if (!stopped) timer = setTimeout(tick, config.sweepIntervalSeconds * 1000)
          })
      }
      tick()
    },
    /** Stops the timer and waits for a sweep in progress. */
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}

export type Sweeper = ReturnType<typeof createSweeper>

function emptyReport(): SweepReport {
  return {
    expired: 0,
    requeued: 0,
    multipartAborted: 0,
    objectsRemoved: 0,
    variantObjectsRemoved: 0,
    recordsPurged: 0,
    imagesRetired: 0,
    auditRowsPurged: 0,
    eventsPurged: 0,
    webhookAttemptsPurged: 0,
    webhookDeliveriesPurged: 0,
    falWebhooksPurged: 0,
    imagesErased: 0,
    apiKeysErased: 0,
    jobsErased: 0,
    falRequestsCancelled: 0,
    falCancelsFailed: 0,
    erasuresCompleted: 0,
  }
}
