import { ImageFailedError, ImageServiceError, type Job } from '@image-service/client'

/** The processor's failure_reason values (packages/foundation FailureReason), in words a person understands. */
const REASONS: Record<string, string> = {
  missing_object: 'Nothing arrived at storage.',
  too_large: 'The file is larger than the service accepts.',
  type_mismatch: 'The file’s content is not the image type it claims to be.',
  not_an_image: 'The file is not an image.',
  too_many_pixels: 'The image has more pixels than the service processes.',
  too_many_frames: 'The animation has more frames than the service processes.',
  corrupt: 'The image data is damaged and cannot be decoded.',
  truncated: 'The file is incomplete: it was cut off.',
  unexpected_headers: 'The upload carried headers the service does not allow.',
  replaced: 'The stored file was overwritten after it was checked.',
  expired: 'Nothing was uploaded before the upload link expired.',
  aborted: 'The upload was cancelled.',
}

/** The api's refusals before anything is uploaded, for the codes a person can act on. */
const API_REFUSALS: Record<string, string> = {
  INVALID_CONTENT_TYPE: 'Only JPEG, PNG, WebP, AVIF and GIF images are accepted.',
  FILE_TOO_LARGE: 'The file is larger than the service accepts.',
  QUOTA_EXCEEDED: 'Your storage quota is full: delete images first.',
  RATE_LIMITED: 'Too many uploads at once: try again in a minute.',
  UNAUTHENTICATED: 'The token was refused (expired?): sign in again.',
}

export function describeFailureReason(reason: string | null): string {
  if (reason === null) return 'The image was deleted.'
  return REASONS[reason] ?? `Refused (${reason}).`
}

/**
 * Why a file did not end ready, headed by who said no: the processor checked the bytes and
 * refused them, the api or storage refused the upload, or a request never got an answer.
 */
export function describeError(error: unknown): { words: string; code: string } {
  if (error instanceof ImageFailedError) {
    return { words: `Refused: ${describeFailureReason(error.failureReason)}`, code: error.failureReason ?? error.status }
  }
  if (error instanceof ImageServiceError) {
    if (error.code.startsWith('STORAGE_')) return { words: `Not uploaded: storage refused it (${error.message}).`, code: error.code }
    return { words: `Not uploaded: ${API_REFUSALS[error.code] ?? error.message}`, code: error.code }
  }
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return { words: 'No verdict in time; the image may still be checked later.', code: 'timeout' }
  }
  // fetch rejects with a TypeError when the network or a CORS check stops a request.
  if (error instanceof TypeError || !(error instanceof Error)) {
    return { words: 'Failed: the api or storage could not be reached (network or CORS).', code: 'network' }
  }
  return { words: `Failed: ${error.message}.`, code: error.name }
}

/** Why an AI job did not succeed (the job's `error.code`), in words. */
const JOB_ERRORS: Record<string, string> = {
  PROVIDER_REJECTED: 'The AI service refused the image or the settings',
  PROVIDER_UNAVAILABLE: 'The AI service could not be reached; try again later',
  RESULTS_FAILED: 'The AI service’s result did not pass the image checks',
  SOURCE_GONE: 'The original was deleted while the job ran',
  QUOTA_EXCEEDED: 'Your storage quota is full: delete images first',
}

export function describeJobFailure(job: Pick<Job, 'status' | 'error'>): string {
  if (job.status === 'cancelled') return 'Cancelled.'
  const code = job.error?.code
  const words = code === undefined ? 'The job failed' : (JOB_ERRORS[code] ?? `The job failed (${code})`)
  return job.error?.message ? `${words}: ${job.error.message}` : `${words}.`
}
