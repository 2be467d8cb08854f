import type { Image, Job } from './types.ts'

/**
 * An answer of the api (or of storage, for the upload PUTs) that is not a success: `code` is
 * the api's stable error code (`INVALID_CONTENT_TYPE`, `QUOTA_EXCEEDED`, `RATE_LIMITED`, ...),
 * or `STORAGE_<S3 code>` when storage refused a PUT. Compare codes, never messages.
 */
export class ImageServiceError extends Error {
  override readonly name = 'ImageServiceError'
  readonly status: number
  readonly code: string
  /** The api's `x-request-id`, to quote when asking why. */
  readonly requestId: string | undefined
  /** Seconds to wait before trying again (429 and 503 answers). */
  readonly retryAfterSeconds: number | undefined

  constructor(init: {
    status: number
    code: string
    message: string
    requestId?: string | undefined
    retryAfterSeconds?: number | undefined
  }) {
    super(init.message)
    this.status = init.status
    this.code = init.code
    this.requestId = init.requestId
    this.retryAfterSeconds = init.retryAfterSeconds
  }
}

/** The image reached `failed` (refused by validation, expired, aborted) or `deleted` instead of `ready`. */
export class ImageFailedError extends Error {
  override readonly name = 'ImageFailedError'
  readonly imageId: string
  readonly status: 'failed' | 'deleted'
  /** Why, as the api says it (`type_mismatch`, `not_an_image`, `too_many_pixels`, `expired`, ...); null for a deletion. */
  readonly failureReason: string | null
  readonly image: Image

  constructor(image: Image & { status: 'failed' | 'deleted' }) {
    super(`image ${image.image_id} is ${image.status}${image.failure_reason === null ? '' : `: ${image.failure_reason}`}`)
    this.imageId = image.image_id
    this.status = image.status
    this.failureReason = image.failure_reason
    this.image = image
  }
}

/** The job ended `failed` or `cancelled` instead of `succeeded`; `error` is the job's own. */
export class JobFailedError extends Error {
  override readonly name = 'JobFailedError'
  readonly jobId: string
  readonly status: 'failed' | 'cancelled'
  readonly error: Job['error']
  readonly job: Job

  constructor(job: Job & { status: 'failed' | 'cancelled' }) {
    super(`job ${job.job_id} is ${job.status}${job.error === null ? '' : `: ${job.error.code}: ${job.error.message}`}`)
    this.jobId = job.job_id
    this.status = job.status
    this.error = job.error
    this.job = job
  }
}

type ErrorBody = { code?: unknown; message?: unknown }

/** The typed error for an api answer that openapi-fetch reported as `error`. */
export function apiError(response: Response, body: unknown): ImageServiceError {
  const parsed = (typeof body === 'object' && body !== null ? body : {}) as ErrorBody
  const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN)
  return new ImageServiceError({
    status: response.status,
    code: typeof parsed.code === 'string' ? parsed.code : `HTTP_${response.status}`,
    message: typeof parsed.message === 'string' ? parsed.message : typeof body === 'string' && body !== '' ? body : response.statusText,
    requestId: response.headers.get('x-request-id') ?? undefined,
    retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined,
  })
}

/** The data of an openapi-fetch result, or its typed error. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) throw apiError(result.response, result.error)
  return result.data as T
}

/** Storage answers errors as XML: `<Code>SignatureDoesNotMatch</Code>`; its code becomes ours. */
export async function storageError(response: Response, what: string): Promise<ImageServiceError> {
  const text = await response.text().catch(() => '')
  const code = /<Code>([^<]{1,64})<\/Code>/.exec(text)?.[1]
  const message = /<Message>([^<]{1,512})<\/Message>/.exec(text)?.[1]
  return new ImageServiceError({
    status: response.status,
    code: `STORAGE_${code ?? `HTTP_${response.status}`}`,
    message: `${what} answered ${response.status}${message === undefined ? '' : `: ${message}`}`,
  })
}
