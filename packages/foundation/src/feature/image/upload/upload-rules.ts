import { ALLOWED_CONTENT_TYPES, type ImageContentType, isAllowedContentType } from '../../../shared/image/image.ts'
import { UploadError } from './upload-error.ts'

export const MAX_FILE_NAME_LENGTH = 255

/**
 * Exact membership in the allowlist. No trimming, no case folding, no parameters, no
 * wildcards: the signed Content-Type must be byte-for-byte what the processor later checks
 * the magic bytes against, and what a browser would be served.
 */
export function parseAllowedContentType(value: string): ImageContentType {
  if (isAllowedContentType(value)) return value
  throw new UploadError(
    'INVALID_CONTENT_TYPE',
    `content_type must be one of ${ALLOWED_CONTENT_TYPES.join(', ')}; got ${JSON.stringify(value.slice(0, 100))}`,
  )
}

// C0 controls and DEL: they break headers, logs and terminals when the name is shown.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/

/**
 * 1..255 characters counted in Unicode code points (not UTF-16 units), so an emoji counts
 * as one character, as a user would count it. The name is metadata only: it never reaches
 * the object key, so path-like names (`../../x`) are harmless and accepted as they are.
 */
export function parseFileName(value: string): string {
  const length = [...value].length
  if (length < 1 || length > MAX_FILE_NAME_LENGTH) {
    throw new UploadError('INVALID_FILE_NAME', `file_name must be 1..${MAX_FILE_NAME_LENGTH} characters; got ${length}`)
  }
  if (CONTROL_CHARACTERS.test(value)) {
    throw new UploadError('INVALID_FILE_NAME', 'file_name must not contain control characters (U+0000..U+001F, U+007F)')
  }
  return value
}

/**
 * A declared upload size: an integer of 1..maxUploadBytes bytes. Above the limit it is
 * FILE_TOO_LARGE (the upload could never be accepted); anything else that is not a positive
 * integer is INVALID_SIZE_BYTES.
 */
export function parseDeclaredSize(value: unknown, maxUploadBytes: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new UploadError('INVALID_SIZE_BYTES', `size_bytes must be an integer of 1..${maxUploadBytes}`)
  }
  if (value > maxUploadBytes) {
    throw new UploadError('FILE_TOO_LARGE', `size_bytes ${value} is more than MAX_UPLOAD_BYTES (${maxUploadBytes})`)
  }
  return value
}
