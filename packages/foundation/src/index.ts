export * from './common/errors.ts'
export * from './common/config.ts'
export * from './common/logger.ts'
export * from './common/metrics.ts'
export * from './common/tracing.ts'
export * from './common/variant-settings.ts'
export * from './shared/identity/request-context.ts'
export * from './shared/identity/authentication-error.ts'
export * from './shared/identity/token-verifier.ts'
export * from './shared/image/image.ts'
export * from './shared/image/usage.ts'
export * from './shared/audit/index.ts'
export type { ImageRepository } from './shared/image/image-repository.ts'
// shared/database + the PostgreSQL ImageRepository
export * from './shared/database/database.ts'
export { isDatabaseUnavailable, withDatabaseErrors } from './shared/database/database-errors.ts'
export { imageRecords, type ImageRecordRow } from './shared/database/schema.ts'
export * from './shared/image/postgres-image-repository.ts'
export * from './shared/image/ready-record-cache.ts'
export * from './shared/image/postgres-record-changes.ts'
// shared/storage
export * from './shared/storage/s3-client.ts'
export { AwsSha256 } from './shared/storage/aws-sha256.ts'
export { StoredObjectChangedError, StoredObjectNotFoundError } from './shared/storage/s3-errors.ts'
export { createS3ObjectRequests, type S3ObjectRequests } from './shared/storage/s3-object-requests.ts'
// shared/queue: SQS consumer, worker and sender, message schemas, the "message processed" hook
export * from './shared/queue/index.ts'
// feature/image/upload (api)
export * from './feature/image/upload/index.ts'
// feature/image/validate (processor)
export * from './feature/image/validate/index.ts'
// feature/image/variants (processor)
export * from './feature/image/variants/index.ts'
// feature/image/library
export * from './feature/image/library/index.ts'
// feature/image/download
export * from './feature/image/download/index.ts'
// feature/identity
export * from './feature/identity/index.ts'
// feature/events: the event log's readers (list, stream) and webhook delivery
export * from './feature/events/index.ts'
// feature/lifecycle (processor: the sweeper; api: owner erasure)
export * from './feature/lifecycle/index.ts'
// feature/processing: AI jobs (workflows, start/status/cancel, the runner, fal)
export * from './feature/processing/index.ts'
