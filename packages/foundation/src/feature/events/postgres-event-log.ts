import type { DrizzleDatabase } from '../../shared/database/database.ts'
import { withDatabaseErrors } from '../../shared/database/database-errors.ts'
import { type EventPosition, type EventRecord, formatEventId, LOG_START } from './event.ts'
import type { EventLog } from './event-log.ts'

type Row = { xid: string; id: string; type: string; subject_id: string; owner_id: string; at: Date | string; data: Record<string, unknown> }

/**
 * Every query stops at the visibility line, `xid < pg_snapshot_xmin(pg_current_snapshot())`:
 * every transaction with an xid below the snapshot's xmin has ended, and any transaction still
 * to write an event gets a larger xid. So the events below it are all there will ever be
 * there, whichever order their transactions committed in. A long write transaction holds the
 * line back (events wait for it), it never lets a reader skip one.
 *
 * The columns come back as text (`xid::text AS xid`), so every ORDER BY names the table's
 * columns (`events.xid`): a bare `xid` would be the output column and sort as text, putting
 * xid 1000 before 999.
 */
export function createPostgresEventLog(db: DrizzleDatabase, options: { deadlineMs?: number } = {}): EventLog {
  const client = db.$client
  const guarded = <T>(run: () => PromiseLike<T>) => withDatabaseErrors(run, options.deadlineMs)
  return {
    async listAfter({ ownerId, after, limit }) {
      const xid = after.xid.toString()
      const seq = after.seq.toString()
      const rows = await guarded(() =>
        ownerId === null
          ? client<Row[]>`
              SELECT xid::text AS xid, id::text AS id, type, subject_id, owner_id, at, data FROM events
              WHERE (xid, id) > (${xid}::xid8, ${seq}::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot())
              ORDER BY events.xid, events.id LIMIT ${limit}`
          : client<Row[]>`
              SELECT xid::text AS xid, id::text AS id, type, subject_id, owner_id, at, data FROM events
              WHERE owner_id = ${ownerId} AND (xid, id) > (${xid}::xid8, ${seq}::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot())
              ORDER BY events.xid, events.id LIMIT ${limit}`,
      )
      return rows.map(toRecord)
    },
    async head() {
      const rows = await guarded(
        () => client<{ xid: string; id: string }[]>`
          SELECT xid::text AS xid, id::text AS id FROM events WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY events.xid DESC, events.id DESC LIMIT 1`,
      )
      const row = rows[0]
      return row === undefined ? LOG_START : { xid: BigInt(row.xid), seq: BigInt(row.id) }
    },
  }
}

function toRecord(row: Row): EventRecord {
  const position: EventPosition = { xid: BigInt(row.xid), seq: BigInt(row.id) }
  return {
    id: formatEventId(position),
    position,
    type: row.type,
    subjectId: row.subject_id,
    ownerId: row.owner_id,
    at: new Date(row.at),
    data: row.data,
  }
}
