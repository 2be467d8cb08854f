import type postgres from 'postgres'
import { withDatabaseErrors } from '../../../shared/database/database-errors.ts'
import type { ImageId } from '../../../shared/image/image.ts'

/** The multipart upload of one image (migrations/0010_lifecycle.sql). */
export type MultipartUpload = {
  imageId: ImageId
  uploadId: string
  sizeBytes: number
  partSize: number
  expiresAt: Date
  completedAt: Date | null
  abortedAt: Date | null
}

/** Port: where the api keeps each upload's S3 upload id, since storage cannot be asked to list them. */
export interface MultipartUploads {
  insert(upload: Pick<MultipartUpload, 'imageId' | 'uploadId' | 'sizeBytes' | 'partSize' | 'expiresAt'>): Promise<void>
  find(imageId: ImageId): Promise<MultipartUpload | null>
  /** Fresh part URLs were handed out: the upload is abandoned only after they expire. */
  extend(imageId: ImageId, expiresAt: Date): Promise<void>
  /** Open -> completed; false when it was not open. */
  markCompleted(imageId: ImageId): Promise<boolean>
  /** Open -> aborted; false when it was not open. */
  markAborted(imageId: ImageId): Promise<boolean>
}

type Row = {
  image_id: ImageId
  upload_id: string
  size_bytes: string
  part_size: string
  expires_at: string
  completed_at: string | null
  aborted_at: string | null
}

const date = (text: string | null) => (text === null ? null : new Date(text))

export function createPostgresMultipartUploads(sql: postgres.Sql, options: { deadlineMs?: number } = {}): MultipartUploads {
  const guarded = <T>(run: () => PromiseLike<T>) => withDatabaseErrors(run, options.deadlineMs)
  const open = (imageId: ImageId, column: 'completed_at' | 'aborted_at') =>
    guarded(
      () => sql`
        UPDATE multipart_uploads SET ${sql(column)} = now()
        WHERE image_id = ${imageId} AND completed_at IS NULL AND aborted_at IS NULL`,
    ).then((result) => result.count === 1)
  return {
    async insert(upload) {
      await guarded(
        () => sql`
          INSERT INTO multipart_uploads (image_id, upload_id, size_bytes, part_size, expires_at)
          VALUES (${upload.imageId}, ${upload.uploadId}, ${upload.sizeBytes}, ${upload.partSize}, ${upload.expiresAt.toISOString()})`,
      )
    },
    async find(imageId) {
      const [row] = await guarded(() => sql<Row[]>`SELECT * FROM multipart_uploads WHERE image_id = ${imageId}`)
      if (row === undefined) return null
      return {
        imageId: row.image_id,
        uploadId: row.upload_id,
        sizeBytes: Number(row.size_bytes),
        partSize: Number(row.part_size),
        expiresAt: new Date(row.expires_at),
        completedAt: date(row.completed_at),
        abortedAt: date(row.aborted_at),
      }
    },
    async extend(imageId, expiresAt) {
      await guarded(
        () => sql`
          UPDATE multipart_uploads SET expires_at = greatest(expires_at, ${expiresAt.toISOString()}::timestamptz)
          WHERE image_id = ${imageId} AND completed_at IS NULL AND aborted_at IS NULL`,
      )
    },
    markCompleted: (imageId) => open(imageId, 'completed_at'),
    markAborted: (imageId) => open(imageId, 'aborted_at'),
  }
}
