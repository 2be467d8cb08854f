import { ImageFailedError, ImageServiceError } from '@image-service/client'

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

export function describeFailureReason(reason: string | null): string {
  if (reason === null) return 'The image was deleted.'
  return REASONS[reason] ?? `Refused (${reason}).`
}

/** Why a file did not end ready: the processor's verdict, the api's or storage's refusal, or the network. */
export function describeError(error: unknown): { words: string; code: string } {
  if (error instanceof ImageFailedError) {
    return { words: describeFailureReason(error.failureReason), code: error.failureReason ?? error.status }
  }
  if (error instanceof ImageServiceError) {
    if (error.code.startsWith('STORAGE_')) return { words: `Storage refused the upload: ${error.message}`, code: error.code }
    return { words: error.message, code: error.code }
  }
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return { words: 'No verdict in time; the image may still be processed.', code: 'timeout' }
  }
  // fetch rejects with a TypeError when the network or a CORS check stops a request.
  return { words: 'The api or storage could not be reached (network or CORS).', code: error instanceof Error ? error.name : 'error' }
}
