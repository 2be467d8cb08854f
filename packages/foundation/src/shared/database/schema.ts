import { bigint, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core'
import {
  ALLOWED_CONTENT_TYPES,
  IMAGE_STATUSES,
  type FailureReason,
  type ImageId,
  type ImageVariantFormat,
  type Labels,
  type RemovedMetadata,
} from '../image/image.ts'

/**
 * Mirror of migrations/0001_images.sql, 0002_failure_reason.sql, 0003_image_etag.sql, 0006_ownership.sql, 0007_quotas.sql and 0009_variants.sql for typed queries.
 * The SQL files own the schema (constraints, defaults); this file must follow them.
 */
/** One element of `variants`, as stored (snake_case, as the API shows it). */
export type StoredVariant = { name: string; format: ImageVariantFormat; width: number; height: number; size_bytes: number }

export const imageRecords = pgTable('image_records', {
  id: text('id').$type<ImageId>().primaryKey(),
  ownerId: text('owner_id').notNull(),
  status: text('status', { enum: IMAGE_STATUSES }).notNull(),
  contentType: text('content_type', { enum: ALLOWED_CONTENT_TYPES }).notNull(),
  fileName: text('file_name').notNull(),
  // Sizes are capped far below 2^53 (MAX_UPLOAD_BYTES), so a JS number is exact.
  sizeBytes: bigint('size_bytes', { mode: 'number' }),
  objectKey: text('object_key').notNull().unique(),
  failureReason: text('failure_reason').$type<FailureReason>(),
  etag: text('etag'),
  labels: jsonb('labels').$type<Labels>().notNull().default({}),
  sourceImageId: text('source_image_id').$type<ImageId>(),
  jobId: text('job_id'),
  reservedBytes: bigint('reserved_bytes', { mode: 'number' }).notNull().default(0),
  width: integer('width'),
  height: integer('height'),
  variants: jsonb('variants').$type<StoredVariant[]>().notNull().default([]),
  variantsBytes: bigint('variants_bytes', { mode: 'number' }).notNull().default(0),
  placeholder: text('placeholder'),
  metadataRemoved: jsonb('metadata_removed').$type<RemovedMetadata[]>().notNull().default([]),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
})

export type ImageRecordRow = typeof imageRecords.$inferSelect

export const schema = { imageRecords }
