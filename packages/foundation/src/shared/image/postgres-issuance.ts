import type postgres from 'postgres'
import { auditActor } from '../audit/audit.ts'
import { isDatabaseUnavailable } from '../database/database-errors.ts'
import { createGroupCommit, type Settled } from '../database/group-commit.ts'
import { runWithinDeadline } from '../database/transaction.ts'
import type { RequestContext } from '../identity/request-context.ts'
import type { NewImageRecord } from './image.ts'
import type { RawImageRow } from './postgres-image-repository.ts'
import { exceededLimit, type OwnerUsage, QuotaExceededError, type QuotaLimits } from './usage.ts'

export type Issuance = { record: NewImageRecord; limits: QuotaLimits; ctx: RequestContext | undefined }

export type IssuanceOptions = {
  /** Issuance transactions at the same time (each holds a pooled connection while it runs). */
  maxInFlight: number
  maxBatch: number
  deadlineMs?: number | undefined
}

type UsageRow = { owner_id: string; images: string; bytes: string; reserved_bytes: string }

/**
 * Issuing uploads: the quota check, the reservation, the `pending` record, its audit row and
 * its event, for every issuance that arrives at the same time, in one transaction of two
 * statements (group commit, see createGroupCommit).
 *
 * 1. Lock the usage rows of the batch's owners (creating a first-time owner's), in owner
 *    order, so concurrent batches never deadlock, and read their latest values.
 * 2. Decide each issuance in arrival order against that usage plus what the batch already
 *    admitted: exactly as many fit as would have one by one.
 * 3. One statement adds what was admitted to each owner's usage and inserts the records,
 *    their audit rows and their events.
 *
 * The usage rows stay locked until COMMIT, so another replica's batch for the same owner
 * waits and then reads what this one committed: no quota is ever overshot. A refusal names
 * the limit, computed from the usage it was decided against.
 *
 * A batch that fails for any reason but an outage is written again one issuance at a time,
 * so one bad record cannot fail the others.
 */
export function createIssuance(client: postgres.Sql, options: IssuanceOptions): (issuance: Issuance) => Promise<RawImageRow> {
  const lockUsage = (tx: postgres.TransactionSql, owners: readonly string[]) =>
    tx<UsageRow[]>`
      INSERT INTO owner_usage AS u (owner_id, images, bytes, reserved_bytes)
      SELECT o, 0, 0, 0 FROM unnest(${tx.array([...owners])}::text[]) AS o
      ON CONFLICT (owner_id) DO UPDATE SET owner_id = excluded.owner_id
      RETURNING u.owner_id, u.images, u.bytes, u.reserved_bytes`

  // Arrays in, one fixed statement text (a prepared statement per connection) for any batch size.
  const insertAdmitted = (tx: postgres.TransactionSql, admitted: readonly Issuance[]) => {
    const column = <T>(pick: (issuance: Issuance) => T) => tx.array(admitted.map(pick) as never[])
    return tx<RawImageRow[]>`
      WITH input AS (
        SELECT * FROM unnest(
          ${column((i) => i.record.id)}::text[], ${column((i) => i.record.ownerId)}::text[],
          ${column((i) => i.record.contentType)}::text[], ${column((i) => i.record.fileName)}::text[],
          ${column((i) => i.record.objectKey)}::text[], ${column((i) => JSON.stringify(i.record.labels ?? {}))}::text[],
          ${column((i) => i.record.sourceImageId ?? null)}::text[], ${column((i) => i.record.jobId ?? null)}::text[],
          ${column((i) => i.record.reservedBytes ?? 0)}::bigint[],
          ${column((i) => (i.ctx === undefined ? null : JSON.stringify(auditActor(i.ctx.actor))))}::text[],
          ${column((i) => i.ctx?.requestId ?? null)}::text[], ${column((i) => i.ctx?.clientIp ?? null)}::text[]
        ) WITH ORDINALITY AS t(id, owner_id, content_type, file_name, object_key, labels, source_image_id, job_id,
                               reserved_bytes, actor, request_id, client_ip, ord)
      ), counted AS (
        UPDATE owner_usage u SET images = u.images + c.images, reserved_bytes = u.reserved_bytes + c.reserved_bytes
        FROM (SELECT owner_id, count(*) AS images, sum(reserved_bytes) AS reserved_bytes FROM input GROUP BY owner_id) c
        WHERE u.owner_id = c.owner_id
      ), moved AS (
        INSERT INTO image_records (id, owner_id, status, content_type, file_name, object_key, labels, source_image_id, job_id, reserved_bytes)
        SELECT id, owner_id, 'pending', content_type, file_name, object_key, labels::jsonb, source_image_id, job_id, reserved_bytes
        FROM input ORDER BY ord
        RETURNING *
      ), audited AS (
        INSERT INTO audit_events (actor, owner_id, action, image_id, request_id, client_ip, detail)
        SELECT i.actor::jsonb, m.owner_id, 'upload.issued', m.id, i.request_id, i.client_ip,
               jsonb_build_object('content_type', m.content_type, 'reserved_bytes', m.reserved_bytes)
        FROM moved m JOIN input i ON i.id = m.id WHERE i.actor IS NOT NULL ORDER BY i.ord
      ), evented AS (
        INSERT INTO events (type, subject_id, owner_id, data)
        SELECT 'image.pending', m.id, m.owner_id, jsonb_build_object('content_type', m.content_type)
        FROM moved m JOIN input i ON i.id = m.id ORDER BY i.ord
      )
      SELECT * FROM moved`
  }

  const writeBatch = (batch: readonly Issuance[], limits: QuotaLimits): Promise<Settled<RawImageRow>[]> =>
    runWithinDeadline<postgres.TransactionSql, Settled<RawImageRow>[]>(
      (body) => client.begin(body) as Promise<Settled<RawImageRow>[]>,
      async (tx) => {
        const owners = [...new Set(batch.map((i) => i.record.ownerId))].sort()
        const usage = new Map<string, OwnerUsage>()
        for (const row of await lockUsage(tx, owners)) {
          usage.set(row.owner_id, { images: Number(row.images), bytes: Number(row.bytes), reservedBytes: Number(row.reserved_bytes) })
        }
        const decisions = batch.map((issuance): Settled<true> => {
          const reservation = issuance.record.reservedBytes ?? 0
          const current = usage.get(issuance.record.ownerId)
          if (current === undefined) return { ok: false, error: new Error(`no usage row for owner ${issuance.record.ownerId}`) }
          const limit = exceededLimit(current, limits, reservation)
          if (limit !== undefined) return { ok: false, error: new QuotaExceededError(limit, { ...current }, limits, reservation) }
          current.images += 1
          current.reservedBytes += reservation
          return { ok: true, value: true }
        })
        const admitted = batch.filter((_, index) => decisions[index]?.ok === true)
        const rows = admitted.length === 0 ? [] : await insertAdmitted(tx, admitted)
        const byId = new Map(rows.map((row) => [row.id as string, row]))
        return batch.map((issuance, index): Settled<RawImageRow> => {
          const decision = decisions[index]
          if (decision === undefined || !decision.ok) return decision ?? { ok: false, error: new Error('undecided issuance') }
          const row = byId.get(issuance.record.id)
          return row === undefined ? { ok: false, error: new Error('INSERT ... RETURNING returned no row') } : { ok: true, value: row }
        })
      },
      options.deadlineMs,
    )

  const writeGroup = async (group: readonly Issuance[], limits: QuotaLimits): Promise<Settled<RawImageRow>[]> => {
    try {
      return await writeBatch(group, limits)
    } catch (error) {
      if (group.length === 1 || isDatabaseUnavailable(error)) throw error
      // Something in one record (a constraint, say) failed the statement: decide each alone,
      // in arrival order, so the earlier of two clashing records is the one written.
      const outcomes: Settled<RawImageRow>[] = []
      for (const issuance of group) {
        outcomes.push(await writeBatch([issuance], limits).then((settled) => settled[0] ?? failed(new Error('no outcome')), failed))
      }
      return outcomes
    }
  }

  const batches = createGroupCommit<Issuance, RawImageRow>({
    maxInFlight: options.maxInFlight,
    maxBatch: options.maxBatch,
    // Issuances normally share one set of limits; any that do not are written as their own group.
    async write(items) {
      const groups = new Map<string, number[]>()
      items.forEach((issuance, index) => {
        const key = `${issuance.limits.maxImages}:${issuance.limits.maxBytes}`
        groups.set(key, [...(groups.get(key) ?? []), index])
      })
      const outcomes: Settled<RawImageRow>[] = new Array(items.length)
      for (const indexes of groups.values()) {
        const group = indexes.map((index) => items[index] as Issuance)
        const settled = await writeGroup(group, group[0]?.limits as QuotaLimits).catch((error: unknown) => group.map(() => failed(error)))
        indexes.forEach((index, position) => {
          outcomes[index] = settled[position] ?? failed(new Error('no outcome'))
        })
      }
      return outcomes
    },
  })
  return batches.submit
}

const failed = (error: unknown): Settled<never> => ({ ok: false, error })
