import type { DrizzleDatabase } from '../../../shared/database/database.ts'
import { withDatabaseErrors } from '../../../shared/database/database-errors.ts'
import { formatEventId, parseEventId } from '../event.ts'
import type { ClaimedDelivery, WebhookOutbox } from './webhook-outbox.ts'

type ClaimedRow = {
  xid: string
  id: string
  type: string
  subject_id: string
  owner_id: string
  at: Date | string
  data: Record<string, unknown>
  attempts: number
}

/**
 * The outbox in PostgreSQL (tables from migration 0012). The relay's position is one row
 * (`webhook_relay`), moved in the same transaction as the deliveries it creates, so an event
 * is enqueued exactly once however many processors run the relay.
 */
export function createPostgresWebhookOutbox(db: DrizzleDatabase, options: { name?: string; deadlineMs?: number } = {}): WebhookOutbox {
  const client = db.$client
  const name = options.name ?? 'default'
  const guarded = <T>(run: () => PromiseLike<T>) => withDatabaseErrors(run, options.deadlineMs)
  return {
    enqueue: (limit) =>
      guarded(() =>
        client.begin(async (tx) => {
          // A new relay starts at the head of the log: turning webhooks on does not replay history.
          await tx`
            INSERT INTO webhook_relay (name, after_xid, after_id)
            SELECT ${name}, coalesce(head.xid, '0'), coalesce(head.id, 0)
            FROM (SELECT 1) one LEFT JOIN LATERAL (
              SELECT xid, id FROM events WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid DESC, id DESC LIMIT 1
            ) head ON true
            ON CONFLICT (name) DO NOTHING`
          const [relay] = await tx<{ after_xid: string; after_id: string }[]>`
            SELECT after_xid::text, after_id::text FROM webhook_relay WHERE name = ${name} FOR UPDATE`
          if (relay === undefined) return 0
          const rows = await tx<{ xid: string; id: string; n: number }[]>`
            WITH next AS (
              SELECT xid, id, subject_id FROM events
              WHERE (xid, id) > (${relay.after_xid}::xid8, ${relay.after_id}::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot())
              ORDER BY xid, id LIMIT ${limit}
            ), queued AS (
              INSERT INTO webhook_deliveries (event_id, event_xid, subject_id)
              SELECT id, xid, subject_id FROM next ON CONFLICT (event_id) DO NOTHING
            )
            -- next.xid, not xid: that would be the text output column, which sorts 999 after 1000.
            SELECT xid::text, id::text, (SELECT count(*)::int FROM next) AS n FROM next ORDER BY next.xid DESC, next.id DESC LIMIT 1`
          const last = rows[0]
          if (last === undefined) return 0
          await tx`UPDATE webhook_relay SET after_xid = ${last.xid}::xid8, after_id = ${last.id}::bigint, updated_at = now() WHERE name = ${name}`
          return last.n
        }),
      ),

    async claim(limit, leaseMs) {
      const rows = await guarded(
        () => client<ClaimedRow[]>`
          WITH heads AS (
            SELECT DISTINCT ON (subject_id) event_id, next_attempt_at FROM webhook_deliveries
            WHERE status = 'pending' ORDER BY subject_id, event_xid, event_id
          ), due AS (
            SELECT d.event_id FROM webhook_deliveries d JOIN heads h ON h.event_id = d.event_id
            WHERE h.next_attempt_at <= now() AND d.status = 'pending'
            ORDER BY d.event_xid, d.event_id LIMIT ${limit}
            FOR UPDATE OF d SKIP LOCKED
          ), taken AS (
            UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
            FROM due WHERE d.event_id = due.event_id
            RETURNING d.event_id, d.attempts
          )
          SELECT e.xid::text AS xid, e.id::text AS id, e.type, e.subject_id, e.owner_id, e.at, e.data, t.attempts
          FROM taken t JOIN events e ON e.id = t.event_id
          ORDER BY e.xid, e.id`,
      )
      return rows.map(
        (row): ClaimedDelivery => ({
          attempt: row.attempts,
          event: {
            id: formatEventId({ xid: BigInt(row.xid), seq: BigInt(row.id) }),
            position: { xid: BigInt(row.xid), seq: BigInt(row.id) },
            type: row.type,
            subjectId: row.subject_id,
            ownerId: row.owner_id,
            at: new Date(row.at),
            data: row.data,
          },
        }),
      )
    },

    async record(result) {
      const seq = parseEventId(result.eventId).seq.toString()
      const { outcome } = result
      const status = outcome.type === 'delivered' ? 'delivered' : outcome.type === 'dead' ? 'dead' : 'pending'
      const retryAt = outcome.type === 'retry' ? outcome.at.toISOString() : null
      await guarded(
        () => client`
          WITH tried AS (
            INSERT INTO webhook_attempts (event_id, attempt, status_code, error, duration_ms)
            VALUES (${seq}::bigint, ${result.attempt}, ${result.statusCode}, ${result.error}, ${Math.round(result.durationMs)})
          )
          UPDATE webhook_deliveries SET
            status = ${status},
            next_attempt_at = coalesce(${retryAt}::timestamptz, next_attempt_at),
            finished_at = CASE WHEN ${status} = 'pending' THEN NULL ELSE now() END,
            last_error = ${result.error ?? (result.statusCode === null ? null : `HTTP ${result.statusCode}`)}
          WHERE event_id = ${seq}::bigint AND status = 'pending'`,
      )
    },
  }
}
