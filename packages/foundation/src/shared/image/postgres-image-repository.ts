import { and, eq, sql } from 'drizzle-orm'
import type { DrizzleDatabase } from '../database/database.ts'
import { withDatabaseErrors } from '../database/database-errors.ts'
import { imageRecords, type ImageRecordRow } from '../database/schema.ts'
import type { ImageId, ImageRecord, ImageTransition, NewImageRecord } from './image.ts'
import type { ImageRepository } from './image-repository.ts'

/** The production ImageRepository. Database outages surface as DependencyUnavailableError. */
export function createPostgresImageRepository(db: DrizzleDatabase, options: { deadlineMs?: number } = {}): ImageRepository {
  const guarded = <T>(run: () => PromiseLike<T>) => withDatabaseErrors(run, options.deadlineMs)
  return {
    async save(record: NewImageRecord) {
      const rows = await guarded(() =>
        db
          .insert(imageRecords)
          .values({ id: record.id, status: 'pending', contentType: record.contentType, fileName: record.fileName, objectKey: record.objectKey })
          .returning(),
      )
      return toImageRecord(single(rows))
    },

    async findById(id: ImageId) {
      const rows = await guarded(() => db.select().from(imageRecords).where(eq(imageRecords.id, id)))
      const row = rows[0]
      return row === undefined ? null : toImageRecord(row)
    },

    async findByIds(ids: readonly ImageId[]) {
      const unique = [...new Set(ids)]
      if (unique.length === 0) return []
      // One array parameter (= ANY($1)) rather than IN ($1, ..., $n): a single prepared
      // statement serves every batch size.
      const rows = await guarded(() =>
        db
          .select()
          .from(imageRecords)
          .where(sql`${imageRecords.id} = ANY(${sql.param(unique)}::text[])`),
      )
      return rows.map(toImageRecord)
    },

    async transitionFromPending(id: ImageId, transition: ImageTransition) {
      const changes =
        transition.status === 'ready'
          ? { status: 'ready' as const, sizeBytes: transition.sizeBytes }
          : { status: 'failed' as const, failureReason: transition.failureReason }
      // The status predicate makes the move atomic: of racing duplicate deliveries exactly one
      // UPDATE matches; the others see zero rows and final states never change.
      const rows = await guarded(() =>
        db
          .update(imageRecords)
          .set({ ...changes, updatedAt: sql`now()` })
          .where(and(eq(imageRecords.id, id), eq(imageRecords.status, 'pending')))
          .returning(),
      )
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
    status: row.status,
    contentType: row.contentType,
    fileName: row.fileName,
    sizeBytes: row.sizeBytes,
    objectKey: row.objectKey,
    failureReason: row.failureReason,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  }
}
