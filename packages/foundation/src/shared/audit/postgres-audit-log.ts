import type { Logger } from '../../common/logger.ts'
import type { DrizzleDatabase } from '../database/database.ts'
import { withDatabaseErrors } from '../database/database-errors.ts'
import type { RequestContext } from '../identity/request-context.ts'
import {
  type AuditActor,
  type AuditAction,
  type AuditDetail,
  type AuditEntry,
  type AuditLog,
  type AuditQuery,
  type AuditRecord,
  type AuditRepository,
  auditActor,
} from './audit.ts'

type Row = {
  actor: string
  owner_id: string
  action: AuditAction
  image_id: string | null
  request_id: string
  client_ip: string | null
  detail: string
}

function toRow(ctx: RequestContext, entry: AuditEntry): Row {
  return {
    actor: JSON.stringify(auditActor(ctx.actor)),
    owner_id: entry.ownerId,
    action: entry.action,
    image_id: entry.imageId ?? null,
    request_id: ctx.requestId,
    client_ip: ctx.clientIp ?? null,
    detail: JSON.stringify(entry.detail ?? {}),
  }
}

/**
 * The production AuditLog. record() queues rows and writes them in one multi-row INSERT a
 * moment later (at most `batchSize` per statement), so a hot route such as batch signing
 * pays no round trip for its row. close() writes everything still queued; a batch that fails
 * is kept and tried again on the next flush, so rows are lost only when the database stays
 * down through shutdown (each is then logged as lost).
 */
export function createPostgresAuditLog(
  db: DrizzleDatabase,
  options: { log?: Logger; delayMs?: number; batchSize?: number } = {},
): AuditLog {
  const client = db.$client
  const delayMs = options.delayMs ?? 50
  const batchSize = options.batchSize ?? 500
  let queue: Row[] = []
  let timer: NodeJS.Timeout | undefined
  let flushing: Promise<void> = Promise.resolve()

  const insert = (rows: Row[]) =>
    withDatabaseErrors(
      () => client`
        INSERT INTO audit_events (actor, owner_id, action, image_id, request_id, client_ip, detail)
        SELECT actor::jsonb, owner_id, action, image_id, request_id, client_ip, detail::jsonb
        FROM json_to_recordset(${JSON.stringify(rows)}::json)
          AS r(actor text, owner_id text, action text, image_id text, request_id text, client_ip text, detail text)`,
    )

  const drain = async () => {
    while (queue.length > 0) {
      const batch = queue.slice(0, batchSize)
      queue = queue.slice(batch.length)
      try {
        await insert(batch)
      } catch (error) {
        // Kept for the next flush, ahead of newer rows.
        queue = [...batch, ...queue]
        throw error
      }
    }
  }
  const flush = () => {
    flushing = flushing.then(drain)
    const current = flushing
    flushing = flushing.catch(() => {})
    return current
  }
  const schedule = () => {
    if (timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      flush().catch((error: unknown) => {
        options.log?.warn({ err: error, queued: queue.length }, 'audit rows not written yet; retrying')
        schedule()
      })
    }, delayMs)
    timer.unref()
  }

  return {
    record(ctx, entry) {
      queue.push(toRow(ctx, entry))
      if (queue.length >= batchSize) void flush().catch(() => schedule())
      else schedule()
    },
    async write(ctx, entry) {
      await insert([toRow(ctx, entry)])
    },
    flush,
    async close() {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      try {
        await flush()
      } catch (error) {
        for (const row of queue)
          options.log?.error({ err: error, action: row.action, requestId: row.request_id }, 'audit row lost at shutdown')
        throw error
      }
    },
  }
}

type ListedRow = {
  id: string
  at: string
  actor: AuditActor
  owner_id: string
  action: AuditAction
  image_id: string | null
  request_id: string
  client_ip: string | null
  detail: AuditDetail
}

export function createPostgresAuditRepository(db: DrizzleDatabase): AuditRepository {
  const client = db.$client
  return {
    async list(query: AuditQuery): Promise<AuditRecord[]> {
      // Served by audit_events_owner (owner_id, id DESC), or audit_events_image.
      const rows = await withDatabaseErrors(
        () => client<ListedRow[]>`
          SELECT id, at, actor, owner_id, action, image_id, request_id, client_ip, detail FROM audit_events
          WHERE owner_id = ${query.ownerId}
            AND (${query.imageId ?? null}::text IS NULL OR image_id = ${query.imageId ?? null}::text)
            AND (${query.action ?? null}::text IS NULL OR action = ${query.action ?? null}::text)
            AND (${query.before ?? null}::bigint IS NULL OR id < ${query.before ?? null}::bigint)
          ORDER BY id DESC
          LIMIT ${query.limit}`,
      )
      return rows.map((row) => ({
        id: String(row.id),
        at: new Date(row.at),
        actor: row.actor,
        ownerId: row.owner_id,
        action: row.action,
        imageId: row.image_id,
        requestId: row.request_id,
        clientIp: row.client_ip,
        detail: row.detail,
      }))
    },
  }
}
