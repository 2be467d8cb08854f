import { ulid } from 'ulid'
import { AppError } from '../../common/errors.ts'
import type { ImageVariantFormat } from '../../common/variant-settings.ts'

/** A ULID: 26 characters of Crockford base32, the first 0-7 (48-bit timestamp). */
export type ImageId = string & { readonly __brand: 'ImageId' }

export const IMAGE_ID_PATTERN = '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'
const imageIdRegExp = new RegExp(IMAGE_ID_PATTERN)

export function isImageId(value: string): value is ImageId {
  return imageIdRegExp.test(value)
}

export class InvalidImageIdError extends AppError {
  constructor(value: string) {
    super(
      'invalid',
      'INVALID_IMAGE_ID',
      `image_id must be a ULID (26 characters, Crockford base32); got ${JSON.stringify(value.slice(0, 40))}`,
    )
  }
}

export function parseImageId(value: string): ImageId {
  if (!isImageId(value)) throw new InvalidImageIdError(value)
  return value
}

// ulid's default source makes one crypto.getRandomValues call per character (16 per id)
// and re-detects the platform's generator on every call: a visible share of the presign
// endpoint's CPU. Drawing from a pool of CSPRNG bytes refilled 4 KiB at a time (256 ids)
// keeps the same cryptographic randomness; byte / 256 maps exactly onto ulid's 32 symbols.
const randomPool = new Uint8Array(4096)
let randomPoolIndex = randomPool.length
function pooledRandom(): number {
  if (randomPoolIndex === randomPool.length) {
    crypto.getRandomValues(randomPool)
    randomPoolIndex = 0
  }
  return (randomPool[randomPoolIndex++] as number) / 256
}

export function newImageId(): ImageId {
  return ulid(undefined, pooledRandom) as ImageId
}

export const IMAGE_STATUSES = ['pending', 'ready', 'failed', 'deleted'] as const
export type ImageStatus = (typeof IMAGE_STATUSES)[number]

export const ALLOWED_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/avif', 'image/gif'] as const
export type ImageContentType = (typeof ALLOWED_CONTENT_TYPES)[number]

export function isAllowedContentType(value: string): value is ImageContentType {
  return (ALLOWED_CONTENT_TYPES as readonly string[]).includes(value)
}

/** Why an upload failed (the processor refused it, or it expired or was aborted); stored in `failure_reason`. */
export type FailureReason =
  | 'missing_object'
  | 'too_large'
  | 'type_mismatch'
  | 'not_an_image'
  | 'too_many_pixels'
  | 'too_many_frames'
  | 'corrupt'
  | 'truncated'
  /** The object was stored with response headers of the uploader's (Content-Disposition, ...). */
  | 'unexpected_headers'
  /** A ready image's object was overwritten (a store that ignores If-None-Match). */
  | 'replaced'
  /** Nothing was uploaded before the URL expired (the sweeper). */
  | 'expired'
  /** A multipart upload was aborted: by its client, or by the sweeper once its URLs expired. */
  | 'aborted'

/** The object key of an upload: fixed shape, never user input. */
export function objectKeyFor(imageId: ImageId): string {
  return `uploads/${imageId}`
}

const UPLOAD_KEY = new RegExp(`^uploads/(${IMAGE_ID_PATTERN.slice(1, -1)})$`)

/** The inverse of objectKeyFor: the image an object key belongs to, or undefined for any other key. */
export function imageIdFromObjectKey(objectKey: string): ImageId | undefined {
  const id = UPLOAD_KEY.exec(objectKey)?.[1]
  return id !== undefined && isImageId(id) ? id : undefined
}

/**
 * The image is not there for this caller: missing, or (for downloads) not ready. One code
 * for every route, so callers cannot probe which ids exist or what the processor decided.
 */
export class ImageNotFoundError extends AppError {
  declare readonly code: 'IMAGE_NOT_FOUND'

  constructor(imageId: ImageId, detail = 'does not exist') {
    super('not_found', 'IMAGE_NOT_FOUND', `image ${imageId} ${detail}`)
  }
}

/** What an original can carry that no variant does (`metadata_removed`). */
export const REMOVED_METADATA = ['exif', 'gps', 'xmp', 'iptc', 'comment'] as const
export type RemovedMetadata = (typeof REMOVED_METADATA)[number]

export type { ImageVariantFormat } from '../../common/variant-settings.ts'

/** One stored derived size: the object `variants/{image_id}/{name}.{format}`. */
export type ImageVariant = {
  name: string
  format: ImageVariantFormat
  width: number
  height: number
  sizeBytes: number
}

/** The variants key of one variant: fixed shape, never user input. */
export function variantKeyFor(imageId: ImageId, name: string, format: ImageVariantFormat): string {
  return `variants/${imageId}/${name}.${format}`
}

/** What the processor derived from a validated original, stored when it marks the record ready. */
export type ImageDerivatives = {
  /** The original as displayed, after EXIF rotation. */
  width: number
  height: number
  variants: ImageVariant[]
  /** ThumbHash, base64. */
  placeholder: string
  metadataRemoved: RemovedMetadata[]
}

/** The caller's own key/value strings, given at issuance; never part of an object key. */
export type Labels = Readonly<Record<string, string>>

export type ImageRecord = {
  id: ImageId
  /** The `sub` of the token (or the API key's owner) that issued it; every query is scoped to it. */
  ownerId: string
  status: ImageStatus
  contentType: ImageContentType
  fileName: string
  /** Unknown (null) until the processor has measured the stored object. */
  sizeBytes: number | null
  objectKey: string
  failureReason: FailureReason | null
  /** The ETag of the object approved when the record turned ready; null before that. */
  etag: string | null
  labels: Labels
  /** For a derived image (an AI result): the image it came from, and the job. */
  sourceImageId: ImageId | null
  jobId: string | null
  /**
   * Bytes this record reserved against its owner's quota at issuance (its declared size, or
   * MAX_UPLOAD_BYTES). Kept after it leaves `pending`; only a pending record's counts.
   */
  reservedBytes: number
  /** The original as displayed (after EXIF rotation); null until ready. */
  width: number | null
  height: number | null
  /** The stored derived sizes; empty until ready. */
  variants: ImageVariant[]
  /** ThumbHash (base64); null until ready. */
  placeholder: string | null
  /** What the original carried that no variant does; empty until ready. */
  metadataRemoved: RemovedMetadata[]
  createdAt: Date
  updatedAt: Date
}

export type NewImageRecord = Pick<ImageRecord, 'id' | 'ownerId' | 'contentType' | 'fileName' | 'objectKey'> &
  Partial<Pick<ImageRecord, 'labels' | 'sourceImageId' | 'jobId' | 'reservedBytes'>>

/** Final states a pending record may move to. */
export type ImageTransition =
  | {
      status: 'ready'
      sizeBytes: number
      etag: string
      /** Dimensions, variants, placeholder and metadata_removed; none (empty) when not given. */
      derivatives?: ImageDerivatives
    }
  | { status: 'failed'; failureReason: FailureReason }
