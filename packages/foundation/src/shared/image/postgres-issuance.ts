import type postgres from 'postgres'
import { auditActor } from '../audit/audit.ts'
import { isDatabaseUnavailable, withDatabaseErrors } from '../database/database-errors.ts'
import { createGroupCommit, type Settled } from '../database/group-commit.ts'
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

type DecidedRow = RawImageRow & {
  ord: string
  /** Null when the owner had no usage row to lock (it was removed after this process saw it). */
  admitted: boolean | null
  images_before: string | null
  bytes_before: string | null
  reserved_before: string | null
}

/**
 * Issuing uploads: the quota check, the reservation, the `pending` record, its audit row and
 * its event, for every issuance that arrives at the same time, in one statement (group
 * commit, see createGroupCommit): one round trip and one commit for the whole batch.
 *
 * 1. Lock the usage rows of the batch's owners, in owner order, so concurrent batches never
 *    deadlock. A locked row is its latest committed version: a batch that waited for
 *    another replica's sees what that one committed.
 * 2. Decide each issuance in arrival order (a recursive step per owner) against that usage
 *    plus what the batch already admitted: exactly as many fit as would have one by one,
 *    and a refused large reservation does not block a smaller one behind it.
 * 3. Add what was admitted to each owner's usage; insert the records, their audit rows and
 *    their events.
 *
 * The row locks last until the statement commits, so no quota is ever overshot. A refusal
 * names the limit, computed from the usage it was decided against. An owner's first
 * issuance creates the owner's usage row first (once per process), since only an existing
 * row can be locked.
 *
 * A batch that fails for any reason but an outage is written again one issuance at a time,
 * so one bad record cannot fail the others.
 */
export function createIssuance(client: postgres.Sql, options: IssuanceOptions): (issuance: Issuance) => Promise<RawImageRow> {
  const guarded = <T>(run: () => PromiseLike<T>) => withDatabaseErrors(run, options.deadlineMs)
  /** Owners whose usage row this process has seen exist (rows are only removed by erasure). */
  const knownOwners = new Set<string>()
  const createUsageRows = (owners: readonly string[]) =>
    client`INSERT INTO owner_usage (owner_id) SELECT unnest(${arrayLiteral(owners)}::text[]) ON CONFLICT (owner_id) DO NOTHING`

  // Arrays in, one fixed statement text (a prepared statement per connection) for any batch size.
  const issue = (batch: readonly Issuance[], limits: QuotaLimits) => {
    const column = (pick: (issuance: Issuance) => string | number | null) => arrayLiteral(batch.map(pick))
    const maxImages = limits.maxImages
    const maxBytes = limits.maxBytes
    return client<DecidedRow[]>`
      WITH RECURSIVE input AS (
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
      ), ranked AS (
        SELECT i.owner_id, i.ord, i.reserved_bytes, row_number() OVER (PARTITION BY i.owner_id ORDER BY i.ord) AS n FROM input i
      ), locked AS (
        SELECT u.owner_id, u.images, u.bytes, u.reserved_bytes FROM owner_usage u
        WHERE u.owner_id IN (SELECT owner_id FROM input) ORDER BY u.owner_id FOR UPDATE
      ), decided AS (
        SELECT l.owner_id, 0::bigint AS n, 0::bigint AS ord, false AS admitted,
               l.images AS images_before, l.reserved_bytes AS reserved_before, l.images, l.reserved_bytes, l.bytes
        FROM locked l
        UNION ALL
        SELECT d.owner_id, r.n, r.ord,
               d.images + 1 <= ${maxImages}::bigint AND d.bytes + d.reserved_bytes + r.reserved_bytes <= ${maxBytes}::bigint,
               d.images, d.reserved_bytes,
               d.images + CASE WHEN d.images + 1 <= ${maxImages}::bigint AND d.bytes + d.reserved_bytes + r.reserved_bytes <= ${maxBytes}::bigint THEN 1 ELSE 0 END,
               d.reserved_bytes + CASE WHEN d.images + 1 <= ${maxImages}::bigint AND d.bytes + d.reserved_bytes + r.reserved_bytes <= ${maxBytes}::bigint THEN r.reserved_bytes ELSE 0 END,
               d.bytes
        FROM decided d JOIN ranked r ON r.owner_id = d.owner_id AND r.n = d.n + 1
      ), admitted AS (
        SELECT i.* FROM input i JOIN decided d ON d.ord = i.ord AND d.n > 0 WHERE d.admitted
      ), counted AS (
        UPDATE owner_usage u SET images = u.images + c.images, reserved_bytes = u.reserved_bytes + c.reserved_bytes
        FROM (SELECT owner_id, count(*) AS images, sum(reserved_bytes) AS reserved_bytes FROM admitted GROUP BY owner_id) c
        WHERE u.owner_id = c.owner_id
      ), moved AS (
        INSERT INTO image_records (id, owner_id, status, content_type, file_name, object_key, labels, source_image_id, job_id, reserved_bytes)
        SELECT id, owner_id, 'pending', content_type, file_name, object_key, labels::jsonb, source_image_id, job_id, reserved_bytes
        FROM admitted ORDER BY ord
        RETURNING *
      ), audited AS (
        INSERT INTO audit_events (actor, owner_id, action, image_id, request_id, client_ip, detail)
        SELECT a.actor::jsonb, m.owner_id, 'upload.issued', m.id, a.request_id, a.client_ip,
               jsonb_build_object('content_type', m.content_type, 'reserved_bytes', m.reserved_bytes)
        FROM moved m JOIN admitted a ON a.id = m.id WHERE a.actor IS NOT NULL ORDER BY a.ord
      ), evented AS (
        INSERT INTO events (type, subject_id, owner_id, data)
        SELECT 'image.pending', m.id, m.owner_id, jsonb_build_object('content_type', m.content_type)
        FROM moved m JOIN admitted a ON a.id = m.id ORDER BY a.ord
      )
      SELECT m.*, i.ord, d.admitted, d.images_before, d.bytes AS bytes_before, d.reserved_before
      FROM input i LEFT JOIN decided d ON d.ord = i.ord AND d.n > 0 LEFT JOIN moved m ON m.id = i.id
      ORDER BY i.ord`
  }

  const writeBatch = async (batch: readonly Issuance[], limits: QuotaLimits, retried = false): Promise<Settled<RawImageRow>[]> => {
    const unknown = [...new Set(batch.map((i) => i.record.ownerId).filter((owner) => !knownOwners.has(owner)))]
    if (unknown.length > 0) {
      await guarded(() => createUsageRows(unknown))
      if (knownOwners.size > 100_000) knownOwners.clear()
      for (const owner of unknown) knownOwners.add(owner)
    }
    const rows = await guarded(() => issue(batch, limits))
    const outcomes = batch.map((issuance, index): Settled<RawImageRow> | 'unlocked' => {
      const row = rows[index]
      if (row === undefined) return failed(new Error('the issuance statement returned no row for an issuance'))
      if (row.admitted === null) return 'unlocked'
      if (row.admitted) return { ok: true, value: row }
      const usage: OwnerUsage = {
        images: Number(row.images_before),
        bytes: Number(row.bytes_before),
        reservedBytes: Number(row.reserved_before),
      }
      const reservation = issuance.record.reservedBytes ?? 0
      return failed(new QuotaExceededError(exceededLimit(usage, limits, reservation) ?? 'bytes', usage, limits, reservation))
    })
    const unlocked = batch.filter((_, index) => outcomes[index] === 'unlocked')
    if (unlocked.length === 0) return outcomes as Settled<RawImageRow>[]
    // An owner's row vanished since this process saw it: create it and decide those again, once.
    for (const issuance of unlocked) knownOwners.delete(issuance.record.ownerId)
    const again = retried
      ? unlocked.map(() => failed(new Error('the owner usage row could not be locked')))
      : await writeBatch(unlocked, limits, true)
    let next = 0
    return outcomes.map((outcome) => (outcome === 'unlocked' ? (again[next++] ?? failed(new Error('no outcome'))) : outcome))
  }

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

/**
 * A PostgreSQL array literal ('{"a","b",NULL}'), sent as text and cast in the statement.
 * postgres.js's own array parameters depend on array types it fetches per connection, which
 * a statement on a connection's first query may not have yet.
 */
export function arrayLiteral(values: readonly (string | number | null)[]): string {
  const elements = values.map((value) => (value === null ? 'NULL' : `"${String(value).replace(/[\\"]/g, '\\$&')}"`))
  return `{${elements.join(',')}}`
}
