import { and, desc, eq, lt, ne, sql } from 'drizzle-orm'
import type { DrizzleDatabase } from '../database/database.ts'
import { withDatabaseErrors } from '../database/database-errors.ts'
import { auditActor } from '../audit/audit.ts'
import type { RequestContext } from '../identity/request-context.ts'
import { imageRecords, type ImageRecordRow, type StoredVariant } from '../database/schema.ts'
import type {
  FailureReason,
  ImageDerivatives,
  ImageId,
  ImageRecord,
  ImageStatus,
  ImageTransition,
  Labels,
  NewImageRecord,
  RemovedMetadata,
} from './image.ts'
import type { ImageListQuery, ImageRepository } from './image-repository.ts'
import { createIssuance } from './postgres-issuance.ts'
import { NO_USAGE, type OwnerUsage, type QuotaLimits } from './usage.ts'

/** The production ImageRepository. Database outages surface as DependencyUnavailableError. */
export function createPostgresImageRepository(
  db: DrizzleDatabase,
  options: {
    deadlineMs?: number
    /** Issuance transactions at the same time (group commit, postgres-issuance.ts); 2 unless given. */
    issuanceConcurrency?: number
  } = {},
): ImageRepository {
  const guarded = <T>(run: () => PromiseLike<T>) => withDatabaseErrors(run, options.deadlineMs)
  // The hot queries are built once, as named prepared statements. Unnamed drizzle queries
  // reach postgres.js with prepare: false, which makes every parameterised query two round
  // trips (Parse/Describe, wait, then Bind/Execute) and rebuilds its SQL text on each call;
  // profiled under load, that was the largest cost of the API's request handling. Named,
  // each pooled connection parses a statement once and then runs it in one round trip.
  const selectById = db
    .select()
    .from(imageRecords)
    .where(eq(imageRecords.id, sql.placeholder('id')))
    .prepare('image_records_by_id')
  // One array parameter (= ANY($1)) rather than IN ($1, ..., $n): a single prepared
  // statement serves every batch size.
  const selectOwnedByIds = db
    .select()
    .from(imageRecords)
    .where(and(sql`${imageRecords.id} = ANY(${sql.placeholder('ids')}::text[])`, eq(imageRecords.ownerId, sql.placeholder('ownerId'))))
    .prepare('image_records_owned_by_ids')
  const client = db.$client
  const MAX = Number.MAX_SAFE_INTEGER

  // The statements that change a status also change the owner's usage, write the audit row
  // (when a context is given) and append the event, all in the same statement
  // (data-modifying CTEs), so none of them can exist without the others. They go through
  // postgres.js directly, which names and caches each statement per connection (one round
  // trip per call), because drizzle cannot build data-modifying CTEs.
  const who = (ctx: RequestContext | undefined) => ({
    actor: ctx === undefined ? null : JSON.stringify(auditActor(ctx.actor)),
    requestId: ctx?.requestId ?? null,
    clientIp: ctx?.clientIp ?? null,
  })
  type Who = ReturnType<typeof who>
  type Fragment = ReturnType<typeof client>

  /**
   * The audit row and the event a state change appends: two CTEs that read the `moved` row
   * of the statement they end. `requestId: 'issuing'` files the row under the HTTP request
   * that issued the upload (what caused a validation), the message id going in the detail.
   */
  const trail = (by: Who, t: { action: string; eventType: string; auditDetail: Fragment; eventData: Fragment; requestId?: 'issuing' }) => {
    const requestId =
      t.requestId === 'issuing'
        ? client`coalesce((SELECT a.request_id FROM audit_events a WHERE a.image_id = m.id AND a.action = 'upload.issued' ORDER BY a.id LIMIT 1), ${by.requestId}::text)`
        : client`${by.requestId}::text`
    return client`audited AS (
      INSERT INTO audit_events (actor, owner_id, action, image_id, request_id, client_ip, detail)
      SELECT ${by.actor}::jsonb, m.owner_id, ${t.action}::text, m.id, ${requestId}, ${by.clientIp}::text, ${t.auditDetail}
      FROM moved m WHERE ${by.actor}::jsonb IS NOT NULL
    ), evented AS (
      INSERT INTO events (type, subject_id, owner_id, data)
      SELECT ${t.eventType}::text, m.id, m.owner_id, ${t.eventData} FROM moved m
    )`
  }

  // Issuances go through group commit: see createIssuance for the quota step and its atomicity.
  const issue = createIssuance(client, { maxInFlight: options.issuanceConcurrency ?? 2, maxBatch: 256, deadlineMs: options.deadlineMs })
  const selectUsage = (ownerId: string) =>
    client<{ images: string; bytes: string; reserved_bytes: string }[]>`
      SELECT images, bytes, reserved_bytes FROM owner_usage WHERE owner_id = ${ownerId}`

  // The processor's rows carry the request id of the HTTP request that issued the upload
  // (what caused the validation); the queue message id is in the detail.
  // The status predicate makes each move atomic: of racing duplicate deliveries exactly one
  // UPDATE matches; the others see zero rows, change no usage, and final states never change.
  // pending -> ready: the reservation is replaced by the real size, the original's and its
  // variants' (variants_bytes, the sum of their size_bytes).
  const markReady = (
    id: ImageId,
    sizeBytes: number,
    etag: string,
    derivatives: ImageDerivatives | undefined,
    ctx: RequestContext | undefined,
  ) => {
    const by = who(ctx)
    const variants: StoredVariant[] = (derivatives?.variants ?? []).map((v) => ({
      name: v.name,
      format: v.format,
      width: v.width,
      height: v.height,
      size_bytes: v.sizeBytes,
    }))
    const variantsBytes = variants.reduce((sum, v) => sum + v.size_bytes, 0)
    return client<RawImageRow[]>`
    WITH moved AS (
      UPDATE image_records SET status = 'ready', size_bytes = ${sizeBytes}::bigint, etag = ${etag},
        width = ${derivatives?.width ?? null}::integer, height = ${derivatives?.height ?? null}::integer,
        variants = ${JSON.stringify(variants)}::jsonb, variants_bytes = ${variantsBytes}::bigint,
        placeholder = ${derivatives?.placeholder ?? null}::text,
        metadata_removed = ${JSON.stringify(derivatives?.metadataRemoved ?? [])}::jsonb,
        updated_at = now()
      WHERE id = ${id} AND status = 'pending'
      RETURNING *
    ), counted AS (
      UPDATE owner_usage u SET reserved_bytes = u.reserved_bytes - m.reserved_bytes, bytes = u.bytes + m.size_bytes + m.variants_bytes
      FROM moved m WHERE u.owner_id = m.owner_id
    ), ${trail(by, {
      action: 'upload.validated',
      eventType: 'image.ready',
      auditDetail: client`jsonb_build_object('size_bytes', m.size_bytes, 'message_id', ${by.requestId}::text)`,
      eventData: client`jsonb_build_object('size_bytes', m.size_bytes)`,
      requestId: 'issuing',
    })}
    SELECT * FROM moved`
  }
  // pending -> failed: the image and its reservation are released.
  const markFailed = (id: ImageId, failureReason: string, ctx: RequestContext | undefined) => {
    const by = who(ctx)
    return client<RawImageRow[]>`
    WITH moved AS (
      UPDATE image_records SET status = 'failed', failure_reason = ${failureReason}, updated_at = now()
      WHERE id = ${id} AND status = 'pending'
      RETURNING *
    ), counted AS (
      UPDATE owner_usage u SET images = u.images - 1, reserved_bytes = u.reserved_bytes - m.reserved_bytes
      FROM moved m WHERE u.owner_id = m.owner_id
    ), ${trail(by, {
      action: 'upload.rejected',
      eventType: 'image.failed',
      auditDetail: client`jsonb_build_object('failure_reason', m.failure_reason, 'message_id', ${by.requestId}::text)`,
      eventData: client`jsonb_build_object('failure_reason', m.failure_reason)`,
      requestId: 'issuing',
    })}
    SELECT * FROM moved`
  }
  // The one move out of `ready` the processor makes; the ETag predicate makes it as atomic as
  // the pending-only moves: of racing deliveries exactly one sees the approved version.
  // ready -> failed (replaced): the image and its bytes leave the usage.
  const markReplaced = (id: ImageId, approvedEtag: string, ctx: RequestContext | undefined) => {
    const by = who(ctx)
    return client<RawImageRow[]>`
    WITH moved AS (
      UPDATE image_records SET status = 'failed', failure_reason = 'replaced', updated_at = now()
      WHERE id = ${id} AND status = 'ready' AND etag = ${approvedEtag}
      RETURNING *
    ), counted AS (
      UPDATE owner_usage u SET images = u.images - 1, bytes = u.bytes - m.size_bytes - m.variants_bytes
      FROM moved m WHERE u.owner_id = m.owner_id
    ), ${trail(by, {
      action: 'upload.rejected',
      eventType: 'image.failed',
      auditDetail: client`jsonb_build_object('failure_reason', 'replaced', 'message_id', ${by.requestId}::text)`,
      eventData: client`jsonb_build_object('failure_reason', 'replaced')`,
    })}
    SELECT * FROM moved`
  }
  // Any status but deleted -> deleted, in a transaction of two statements. The first locks
  // the record and reads its status; the second (a new snapshot, taken after the lock, so it
  // sees whatever a racing transition committed) gives back exactly what the record held: a
  // pending reservation, or a ready image's bytes; a failed one held nothing. (In one
  // statement, a racing transition's usage update could be applied after this one's.)
  const toDeleted = (id: ImageId, ctx: RequestContext | undefined) => {
    const by = who(ctx)
    return client.begin(async (tx) => {
      const [locked] = await tx<{ status: ImageStatus }[]>`
        SELECT status FROM image_records WHERE id = ${id} AND status <> 'deleted' FOR UPDATE`
      if (locked === undefined) return []
      const previous = locked.status
      return tx<RawImageRow[]>`
        WITH moved AS (
          UPDATE image_records SET status = 'deleted', updated_at = now()
          WHERE id = ${id}
          RETURNING *
        ), counted AS (
          UPDATE owner_usage u SET
            images = u.images - CASE WHEN ${previous}::text IN ('pending', 'ready') THEN 1 ELSE 0 END,
            bytes = u.bytes - CASE WHEN ${previous}::text = 'ready' THEN coalesce(m.size_bytes, 0) + m.variants_bytes ELSE 0 END,
            reserved_bytes = u.reserved_bytes - CASE WHEN ${previous}::text = 'pending' THEN m.reserved_bytes ELSE 0 END
          FROM moved m WHERE u.owner_id = m.owner_id
        ), ${trail(by, {
          action: 'image.deleted',
          eventType: 'image.deleted',
          auditDetail: client`jsonb_build_object('previous_status', ${previous}::text)`,
          eventData: client`jsonb_build_object('previous_status', ${previous}::text)`,
        })}
        SELECT * FROM moved`
    }) as Promise<RawImageRow[]>
  }

  const usageOf = async (ownerId: string): Promise<OwnerUsage> => {
    const row = (await guarded(() => selectUsage(ownerId)))[0]
    if (row === undefined) return { ...NO_USAGE }
    return { images: Number(row.images), bytes: Number(row.bytes), reservedBytes: Number(row.reserved_bytes) }
  }

  return {
    async save(record: NewImageRecord, ctx?: RequestContext) {
      return fromRaw(await issue({ record, limits: { maxImages: MAX, maxBytes: MAX }, ctx }))
    },

    async saveWithinQuota(record: NewImageRecord & { reservedBytes: number }, limits: QuotaLimits, ctx?: RequestContext) {
      return fromRaw(await issue({ record, limits, ctx }))
    },

    usageOf,

    async findById(id: ImageId) {
      const rows = await guarded(() => selectById.execute({ id }))
      const row = rows[0]
      return row === undefined ? null : toImageRecord(row)
    },

    async findOwnedByIds(ownerId: string, ids: readonly ImageId[]) {
      const unique = [...new Set(ids)]
      if (unique.length === 0) return []
      const rows = await guarded(() => selectOwnedByIds.execute({ ids: unique, ownerId }))
      return rows.map(toImageRecord)
    },

    async list(query: ImageListQuery) {
      // Served by image_records_owner_id (owner_id, id DESC); labels by the GIN index.
      const where = and(
        eq(imageRecords.ownerId, query.ownerId),
        query.status === undefined ? ne(imageRecords.status, 'deleted') : eq(imageRecords.status, query.status),
        query.sourceImageId === undefined ? undefined : eq(imageRecords.sourceImageId, query.sourceImageId),
        query.labels === undefined || Object.keys(query.labels).length === 0
          ? undefined
          : sql`${imageRecords.labels} @> ${JSON.stringify(query.labels)}::jsonb`,
        query.before === undefined ? undefined : lt(imageRecords.id, query.before),
      )
      const rows = await guarded(() => db.select().from(imageRecords).where(where).orderBy(desc(imageRecords.id)).limit(query.limit))
      return rows.map(toImageRecord)
    },

    async markDeleted(id: ImageId, ctx?: RequestContext) {
      const row = (await guarded(() => toDeleted(id, ctx)))[0]
      return row === undefined ? null : fromRaw(row)
    },

    async transitionFromPending(id: ImageId, transition: ImageTransition, ctx?: RequestContext) {
      const rows = await guarded(() =>
        transition.status === 'ready'
          ? markReady(id, transition.sizeBytes, transition.etag, transition.derivatives, ctx)
          : markFailed(id, transition.failureReason, ctx),
      )
      const row = rows[0]
      return row === undefined ? null : fromRaw(row)
    },

    async failReplaced(id: ImageId, approvedEtag: string, ctx?: RequestContext) {
      const row = (await guarded(() => markReplaced(id, approvedEtag, ctx)))[0]
      return row === undefined ? null : fromRaw(row)
    },
  }
}

function toImageRecord(row: ImageRecordRow): ImageRecord {
  return {
    id: row.id,
    ownerId: row.ownerId,
    status: row.status,
    contentType: row.contentType,
    fileName: row.fileName,
    sizeBytes: row.sizeBytes,
    objectKey: row.objectKey,
    failureReason: row.failureReason,
    etag: row.etag,
    labels: row.labels,
    sourceImageId: row.sourceImageId,
    jobId: row.jobId,
    reservedBytes: row.reservedBytes,
    width: row.width,
    height: row.height,
    variants: row.variants.map((v) => ({ name: v.name, format: v.format, width: v.width, height: v.height, sizeBytes: v.size_bytes })),
    placeholder: row.placeholder,
    metadataRemoved: [...row.metadataRemoved],
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  }
}

/**
 * A row as postgres.js returns it through drizzle's client: snake_case, int8 as text and
 * timestamps as text (drizzle's driver turns the client's date parsers off).
 */
export type RawImageRow = {
  id: ImageId
  owner_id: string
  status: ImageRecordRow['status']
  content_type: ImageRecordRow['contentType']
  file_name: string
  size_bytes: string | number | null
  object_key: string
  failure_reason: FailureReason | null
  etag: string | null
  labels: Labels
  source_image_id: ImageId | null
  job_id: string | null
  reserved_bytes: string | number
  width: number | null
  height: number | null
  variants: StoredVariant[]
  variants_bytes: string | number
  placeholder: string | null
  metadata_removed: RemovedMetadata[]
  created_at: string
  updated_at: string
}

function fromRaw(row: RawImageRow): ImageRecord {
  // previous_status (a delete's) and any other extra column are left out.
  // jsonb comes back parsed.
  return toImageRecord({
    id: row.id,
    ownerId: row.owner_id,
    status: row.status,
    contentType: row.content_type,
    fileName: row.file_name,
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    objectKey: row.object_key,
    failureReason: row.failure_reason,
    etag: row.etag,
    labels: row.labels,
    sourceImageId: row.source_image_id,
    jobId: row.job_id,
    reservedBytes: Number(row.reserved_bytes),
    width: row.width,
    height: row.height,
    variants: row.variants,
    variantsBytes: Number(row.variants_bytes),
    placeholder: row.placeholder,
    metadataRemoved: row.metadata_removed,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  })
}
