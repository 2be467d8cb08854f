import type postgres from 'postgres'
import { auditActor } from '../../shared/audit/audit.ts'
import type { DrizzleDatabase } from '../../shared/database/database.ts'
import { withDatabaseErrors } from '../../shared/database/database-errors.ts'
import { runWithinDeadline } from '../../shared/database/transaction.ts'
import type { RequestContext } from '../../shared/identity/request-context.ts'
import type { ImageId } from '../../shared/image/image.ts'
import type { Job, JobError, JobId, JobStatus } from './job.ts'
import type { JobListQuery, JobMove, JobRepository, NewJob, StartDecision } from './job-repository.ts'

type Row = {
  id: JobId
  owner_id: string
  image_id: ImageId
  workflow_id: string
  model: string
  parameters: Record<string, unknown>
  input: Record<string, unknown>
  status: JobStatus
  attempts: number
  provider_request_id: string | null
  result_image_ids: ImageId[]
  results_stored_at: string | null
  error: JobError | null
  request_fingerprint: string | null
  provider_cancelled_at: string | null
  created_at: string
  started_at: string | null
  completed_at: string | null
  updated_at: string
}

const date = (value: string | null) => (value === null ? null : new Date(value))

function toJob(row: Row): Job {
  return {
    id: row.id,
    ownerId: row.owner_id,
    imageId: row.image_id,
    workflowId: row.workflow_id,
    model: row.model,
    parameters: row.parameters,
    input: row.input,
    status: row.status,
    attempts: row.attempts,
    providerRequestId: row.provider_request_id,
    resultImageIds: row.result_image_ids,
    resultsStoredAt: date(row.results_stored_at),
    error: row.error,
    providerCancelledAt: date(row.provider_cancelled_at),
    createdAt: new Date(row.created_at),
    startedAt: date(row.started_at),
    completedAt: date(row.completed_at),
    updatedAt: new Date(row.updated_at),
  }
}

/** What a job event carries: enough to follow a job without asking for it. */
const eventData = (job: Row) =>
  JSON.stringify({
    job_id: job.id,
    image_id: job.image_id,
    workflow_id: job.workflow_id,
    status: job.status,
    result_image_ids: job.result_image_ids,
    error: job.error,
  })

/**
 * The production JobRepository. Each status change is one transaction of the UPDATE guarded
 * by the status it leaves, the event, and (for the caller's own actions) the audit row.
 */
export function createPostgresJobRepository(db: DrizzleDatabase, options: { deadlineMs?: number } = {}): JobRepository {
  const client = db.$client
  const guarded = <T>(run: () => PromiseLike<T>) => withDatabaseErrors(run, options.deadlineMs)
  const inTransaction = <T>(work: (tx: postgres.TransactionSql) => Promise<T>) =>
    runWithinDeadline<postgres.TransactionSql, T>((body) => client.begin(body) as Promise<T>, work, options.deadlineMs)

  const appendEvent = (tx: postgres.TransactionSql, row: Row) =>
    tx`INSERT INTO events (type, subject_id, owner_id, data) VALUES (${`job.${row.status}`}, ${row.id}, ${row.owner_id}, ${eventData(row)}::jsonb)`
  const appendAudit = (tx: postgres.TransactionSql, ctx: RequestContext, action: 'job.started' | 'job.cancelled', row: Row) =>
    tx`INSERT INTO audit_events (actor, owner_id, action, image_id, request_id, client_ip, detail)
       VALUES (${JSON.stringify(auditActor(ctx.actor))}::jsonb, ${row.owner_id}, ${action}, ${row.image_id},
               ${ctx.requestId}, ${ctx.clientIp ?? null}, ${JSON.stringify({ job_id: row.id, workflow_id: row.workflow_id })}::jsonb)`

  const one = async (query: PromiseLike<Row[]>) => {
    const row = (await guarded(() => query))[0]
    return row === undefined ? null : toJob(row)
  }

  return {
    async insertQueued(job: NewJob, { maxActive }, ctx): Promise<StartDecision> {
      return inTransaction(async (tx) => {
        // Serialises one owner's starts: the cap and the Idempotency-Key are decided on what
        // committed before, never on a snapshot a concurrent start is about to change.
        await tx`SELECT pg_advisory_xact_lock(hashtextextended(${`processing_jobs:${job.ownerId}`}, 0))`
        if (job.idempotencyKey !== undefined) {
          const [existing] = await tx<Row[]>`
            SELECT * FROM processing_jobs WHERE owner_id = ${job.ownerId} AND idempotency_key = ${job.idempotencyKey}`
          if (existing !== undefined) {
            return {
              outcome: 'existing',
              job: toJob(existing),
              sameRequest: existing.request_fingerprint === (job.requestFingerprint ?? null),
            }
          }
        }
        const [image] = await tx<{ status: string }[]>`
          SELECT status FROM image_records WHERE id = ${job.imageId} AND owner_id = ${job.ownerId}`
        if (image === undefined || image.status === 'deleted') return { outcome: 'image_missing' }
        if (image.status !== 'ready') return { outcome: 'image_not_ready', status: image.status }
        const [counted] = await tx<{ active: number }[]>`
          SELECT count(*)::int AS active FROM processing_jobs WHERE owner_id = ${job.ownerId} AND status IN ('queued', 'running')`
        const active = counted?.active ?? 0
        if (active >= maxActive) return { outcome: 'too_many', active }
        const [row] = await tx<Row[]>`
          INSERT INTO processing_jobs (id, owner_id, image_id, workflow_id, model, parameters, input, status, idempotency_key, request_fingerprint)
          VALUES (${job.id}, ${job.ownerId}, ${job.imageId}, ${job.workflowId}, ${job.model},
                  ${JSON.stringify(job.parameters)}::jsonb, ${JSON.stringify(job.input)}::jsonb, 'queued',
                  ${job.idempotencyKey ?? null}, ${job.requestFingerprint ?? null})
          RETURNING *`
        if (row === undefined) throw new Error('INSERT ... RETURNING gave no row')
        await appendEvent(tx, row)
        await appendAudit(tx, ctx, 'job.started', row)
        return { outcome: 'created', job: toJob(row) }
      })
    },

    findOwned: (ownerId, id) => one(client<Row[]>`SELECT * FROM processing_jobs WHERE id = ${id} AND owner_id = ${ownerId}`),
    findById: (id) => one(client<Row[]>`SELECT * FROM processing_jobs WHERE id = ${id}`),
    findByProviderRequestId: (requestId) => one(client<Row[]>`SELECT * FROM processing_jobs WHERE provider_request_id = ${requestId}`),

    async list(query: JobListQuery) {
      // Served by processing_jobs_owner (owner_id, id DESC).
      const rows = await guarded(
        () => client<Row[]>`
          SELECT * FROM processing_jobs
          WHERE owner_id = ${query.ownerId}
            AND (${query.imageId ?? null}::text IS NULL OR image_id = ${query.imageId ?? null}::text)
            AND (${query.status ?? null}::text IS NULL OR status = ${query.status ?? null}::text)
            AND (${query.before ?? null}::text IS NULL OR id < ${query.before ?? null}::text)
          ORDER BY id DESC LIMIT ${query.limit}`,
      )
      return rows.map(toJob)
    },

    async cancel(id, ctx) {
      const row = await inTransaction(async (tx) => {
        const [moved] = await tx<Row[]>`
          UPDATE processing_jobs SET status = 'cancelled', completed_at = now(), updated_at = now()
          WHERE id = ${id} AND status IN ('queued', 'running') RETURNING *`
        if (moved === undefined) return undefined
        await appendEvent(tx, moved)
        await appendAudit(tx, ctx, 'job.cancelled', moved)
        return moved
      })
      return row === undefined ? null : toJob(row)
    },

    async move(id, from, move: JobMove) {
      const row = await inTransaction(async (tx) => {
        const [moved] =
          move.to === 'running'
            ? await tx<Row[]>`
                UPDATE processing_jobs SET status = 'running', provider_request_id = ${move.providerRequestId},
                  started_at = now(), updated_at = now()
                WHERE id = ${id} AND status = ${from} RETURNING *`
            : move.to === 'succeeded'
              ? await tx<Row[]>`
                UPDATE processing_jobs SET status = 'succeeded', completed_at = now(), updated_at = now()
                WHERE id = ${id} AND status = ${from} RETURNING *`
              : await tx<Row[]>`
                UPDATE processing_jobs SET status = 'failed', error = ${JSON.stringify(move.error)}::jsonb,
                  completed_at = now(), updated_at = now()
                WHERE id = ${id} AND status = ${from} RETURNING *`
        if (moved === undefined) return undefined
        await appendEvent(tx, moved)
        return moved
      })
      return row === undefined ? null : toJob(row)
    },

    lease: (id, seconds) =>
      one(client<Row[]>`
        UPDATE processing_jobs SET lease_until = now() + make_interval(secs => ${seconds})
        WHERE id = ${id} AND (lease_until IS NULL OR lease_until < now()) RETURNING *`),
    async release(id) {
      await guarded(() => client`UPDATE processing_jobs SET lease_until = NULL WHERE id = ${id}`)
    },
    countAttempt: (id) =>
      one(client<Row[]>`UPDATE processing_jobs SET attempts = attempts + 1, updated_at = now() WHERE id = ${id} RETURNING *`),
    async planResults(id, ids) {
      const rows = await guarded(
        () => client<{ result_image_ids: ImageId[] }[]>`
          UPDATE processing_jobs SET result_image_ids = CASE WHEN cardinality(result_image_ids) = 0 THEN ${ids as ImageId[]}::text[] ELSE result_image_ids END,
            updated_at = now()
          WHERE id = ${id} RETURNING result_image_ids`,
      )
      return rows[0]?.result_image_ids ?? []
    },
    async markResultsStored(id) {
      await guarded(
        () =>
          client`UPDATE processing_jobs SET results_stored_at = coalesce(results_stored_at, now()), updated_at = now() WHERE id = ${id}`,
      )
    },
    async markProviderCancelled(id) {
      await guarded(
        () => client`UPDATE processing_jobs SET provider_cancelled_at = coalesce(provider_cancelled_at, now()) WHERE id = ${id}`,
      )
    },
    async keepProviderRequest(id, requestId) {
      await guarded(
        () =>
          client`UPDATE processing_jobs SET provider_request_id = ${requestId}, updated_at = now() WHERE id = ${id} AND provider_request_id IS NULL`,
      )
    },
    async ownerErasing(ownerId) {
      // The marker of feature/lifecycle's owner erasure (migrations/0010_lifecycle.sql).
      const rows = await guarded(() => client`SELECT 1 FROM owner_erasures WHERE owner_id = ${ownerId} AND completed_at IS NULL`)
      return rows.length > 0
    },
    async recordWebhook(requestId, jobId) {
      const rows = await guarded(
        () =>
          client`INSERT INTO fal_webhook_deliveries (request_id, job_id) VALUES (${requestId}, ${jobId}) ON CONFLICT DO NOTHING RETURNING request_id`,
      )
      return rows.length === 1
    },
    async webhookReceived(requestId) {
      const rows = await guarded(() => client`SELECT 1 FROM fal_webhook_deliveries WHERE request_id = ${requestId}`)
      return rows.length === 1
    },
    async forgetWebhook(requestId) {
      await guarded(() => client`DELETE FROM fal_webhook_deliveries WHERE request_id = ${requestId}`)
    },
  }
}
