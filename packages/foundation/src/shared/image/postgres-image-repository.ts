import { and, desc, eq, lt, ne, type SQL, sql } from 'drizzle-orm'
import type { DrizzleDatabase } from '../database/database.ts'
import { withDatabaseErrors } from '../database/database-errors.ts'
import { imageRecords, type ImageRecordRow } from '../database/schema.ts'
import type { ImageId, ImageRecord, ImageTransition, NewImageRecord } from './image.ts'
import type { ImageListQuery, ImageRepository } from './image-repository.ts'

/** The production ImageRepository. Database outages surface as DependencyUnavailableError. */
export function createPostgresImageRepository(db: DrizzleDatabase, options: { deadlineMs?: number } = {}): ImageRepository {
  const guarded = <T>(run: () => PromiseLike<T>) => withDatabaseErrors(run, options.deadlineMs)
  // The hot queries are built once, as named prepared statements. Unnamed drizzle queries
  // reach postgres.js with prepare: false, which makes every parameterised query two round
  // trips (Parse/Describe, wait, then Bind/Execute) and rebuilds its SQL text on each call;
  // profiled under load, that was the largest cost of the API's request handling. Named,
  // each pooled connection parses a statement once and then runs it in one round trip.
  const insertPending = db
    .insert(imageRecords)
    .values({
      id: sql.placeholder('id'),
      ownerId: sql.placeholder('ownerId'),
      status: 'pending',
      contentType: sql.placeholder('contentType'),
      fileName: sql.placeholder('fileName'),
      objectKey: sql.placeholder('objectKey'),
      labels: sql`${sql.placeholder('labels')}::jsonb`,
      sourceImageId: sql.placeholder('sourceImageId'),
      jobId: sql.placeholder('jobId'),
    })
    .returning()
    .prepare('image_records_insert_pending')
  const selectById = db.select().from(imageRecords).where(eq(imageRecords.id, sql.placeholder('id'))).prepare('image_records_by_id')
  // One array parameter (= ANY($1)) rather than IN ($1, ..., $n): a single prepared
  // statement serves every batch size.
  const selectOwnedByIds = db
    .select()
    .from(imageRecords)
    .where(and(sql`${imageRecords.id} = ANY(${sql.placeholder('ids')}::text[])`, eq(imageRecords.ownerId, sql.placeholder('ownerId'))))
    .prepare('image_records_owned_by_ids')
  const toDeleted = db
    .update(imageRecords)
    .set({ status: 'deleted', updatedAt: sql`now()` })
    .where(and(eq(imageRecords.id, sql.placeholder('id')), ne(imageRecords.status, 'deleted')))
    .returning()
    .prepare('image_records_mark_deleted')

  // The status predicate makes the move atomic: of racing duplicate deliveries exactly one
  // UPDATE matches; the others see zero rows and final states never change.
  const fromPending = (changes: { status: 'ready'; sizeBytes: SQL; etag: SQL } | { status: 'failed'; failureReason: SQL }, name: string) =>
    db
      .update(imageRecords)
      .set({ ...changes, updatedAt: sql`now()` })
      .where(and(eq(imageRecords.id, sql.placeholder('id')), eq(imageRecords.status, 'pending')))
      .returning()
      .prepare(name)
  const markReady = fromPending(
    { status: 'ready', sizeBytes: sql`${sql.placeholder('sizeBytes')}`, etag: sql`${sql.placeholder('etag')}` },
    'image_records_mark_ready',
  )
  const markFailed = fromPending({ status: 'failed', failureReason: sql`${sql.placeholder('failureReason')}` }, 'image_records_mark_failed')
  // The one move out of `ready` the processor makes; the ETag predicate makes it as atomic as
  // the pending-only moves: of racing deliveries exactly one sees the approved version.
  const markReplaced = db
    .update(imageRecords)
    .set({ status: 'failed', failureReason: 'replaced', updatedAt: sql`now()` })
    .where(
      and(
        eq(imageRecords.id, sql.placeholder('id')),
        eq(imageRecords.status, 'ready'),
        eq(imageRecords.etag, sql.placeholder('approvedEtag')),
      ),
    )
    .returning()
    .prepare('image_records_mark_replaced')

  return {
    async save(record: NewImageRecord) {
      const { id, ownerId, contentType, fileName, objectKey } = record
      const rows = await guarded(() =>
        insertPending.execute({
          id,
          ownerId,
          contentType,
          fileName,
          objectKey,
          labels: JSON.stringify(record.labels ?? {}),
          sourceImageId: record.sourceImageId ?? null,
          jobId: record.jobId ?? null,
        }),
      )
      return toImageRecord(single(rows))
    },

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

    async markDeleted(id: ImageId) {
      const rows = await guarded(() => toDeleted.execute({ id }))
      const row = rows[0]
      return row === undefined ? null : toImageRecord(row)
    },

    async transitionFromPending(id: ImageId, transition: ImageTransition) {
      const rows = await guarded(() =>
        transition.status === 'ready'
          ? markReady.execute({ id, sizeBytes: transition.sizeBytes, etag: transition.etag })
          : markFailed.execute({ id, failureReason: transition.failureReason }),
      )
      const row = rows[0]
      return row === undefined ? null : toImageRecord(row)
    },

    async failReplaced(id: ImageId, approvedEtag: string) {
      const rows = await guarded(() => markReplaced.execute({ id, approvedEtag }))
      const row = rows[0]
      return row === undefined ? null : toImageRecord(row)
    },
  }
}

function single(rows: ImageRecordRow[]): ImageRecordRow {
  const row = rows[0]
  if (row === undefined) throw new Error('INSERT ... RETURNING returned no row')
  return row
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
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  }
}
