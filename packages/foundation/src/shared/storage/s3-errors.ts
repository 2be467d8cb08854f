import { S3ServiceException } from '@aws-sdk/client-s3'
import { AppError, DependencyUnavailableError } from '../../common/errors.ts'
import { AnswerError } from './signed-exchange.ts'

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

/** A non-2xx answer to a request made without the SDK client (s3-object-requests.ts); `code` is S3's (`NoSuchKey`, `PreconditionFailed`, ...). */
export class S3RequestError extends AnswerError {
  override readonly name = 'S3RequestError'
}

/** An answer from storage (the SDK's exception, or S3RequestError), as opposed to no answer. */
export function isS3Answer(error: unknown): error is S3ServiceException | S3RequestError {
  return error instanceof S3ServiceException || error instanceof S3RequestError
}

export function s3HttpStatus(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode
  if (error instanceof S3RequestError) return error.status
  return undefined
}

function s3ErrorCode(error: S3ServiceException | S3RequestError): string | undefined {
  return error instanceof S3RequestError ? error.code : error.name
}

export function isS3NotFound(error: unknown): boolean {
  if (!isS3Answer(error)) return false
  const code = s3ErrorCode(error)
  return code === 'NotFound' || code === 'NoSuchKey' || s3HttpStatus(error) === 404
}

export function isS3RangeNotSatisfiable(error: unknown): boolean {
  return isS3Answer(error) && (s3ErrorCode(error) === 'InvalidRange' || s3HttpStatus(error) === 416)
}

export function isS3PreconditionFailed(error: unknown): boolean {
  return isS3Answer(error) && (s3ErrorCode(error) === 'PreconditionFailed' || s3HttpStatus(error) === 412)
}

/** Anything storage did not answer as a result: the caller may retry. */
export function storageUnavailable(action: string, error: unknown): DependencyUnavailableError {
  const reason = error instanceof Error ? error.message : String(error)
  return new DependencyUnavailableError('STORAGE_UNAVAILABLE', `object storage could not ${action}: ${reason}`, {
    cause: error,
  })
}
