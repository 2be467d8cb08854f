import { S3ServiceException } from '@aws-sdk/client-s3'
import { AppError, DependencyUnavailableError } from '../../common/errors.ts'

/** The object a read asked for is not in storage (deleted, or never uploaded). */
export class StoredObjectNotFoundError extends AppError {
  constructor(objectKey: string) {
    super('not_found', 'OBJECT_NOT_FOUND', `object ${objectKey} does not exist`)
  }
}

/**
 * The object no longer is the version a read asked for (its ETag changed since the HEAD):
 * try again, from the HEAD, rather than judge bytes other than the ones measured.
 */
export class StoredObjectChangedError extends AppError {
  constructor(objectKey: string) {
    super('unavailable', 'OBJECT_CHANGED', `object ${objectKey} changed while it was being read`)
  }
}

export function s3HttpStatus(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode
  return undefined
}

export function isS3NotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false
  return error.name === 'NotFound' || error.name === 'NoSuchKey' || s3HttpStatus(error) === 404
}

export function isS3RangeNotSatisfiable(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === 'InvalidRange' || s3HttpStatus(error) === 416)
}

export function isS3PreconditionFailed(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === 'PreconditionFailed' || s3HttpStatus(error) === 412)
}

/** Anything storage did not answer as a result: the caller may retry. */
export function storageUnavailable(action: string, error: unknown): DependencyUnavailableError {
  const reason = error instanceof Error ? error.message : String(error)
  return new DependencyUnavailableError('STORAGE_UNAVAILABLE', `object storage could not ${action}: ${reason}`, {
    cause: error,
  })
}
