import { AppError } from '../../../common/errors.ts'
import { IMAGE_VARIANT_FORMATS, VARIANT_NAME_PATTERN } from '../../../common/variant-settings.ts'
import {
  type ImageContentType,
  type ImageId,
  type ImageRecord,
  type ImageVariantFormat,
  variantKeyFor,
} from '../../../shared/image/image.ts'
import { negotiateVariantFormat } from './accept-negotiation.ts'

/** The uploaded bytes themselves; never a configured variant name (the config refuses it). */
export const ORIGINAL_VARIANT = 'original'
const variantName = new RegExp(VARIANT_NAME_PATTERN)

/** An original's own format, named like the variants' formats. */
const ORIGINAL_FORMATS = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/avif': 'avif',
  'image/gif': 'gif',
} as const
export type OriginalFormat = (typeof ORIGINAL_FORMATS)[ImageContentType]
/** Every format a download can be in: an original's own, or a generated variant's. */
export const DOWNLOAD_FORMATS = [
  ...new Set<OriginalFormat | ImageVariantFormat>([...Object.values(ORIGINAL_FORMATS), ...IMAGE_VARIANT_FORMATS]),
]
export type DownloadFormat = OriginalFormat | ImageVariantFormat
export const AUTO_FORMAT = 'auto'
export type RequestedFormat = DownloadFormat | typeof AUTO_FORMAT

/** What a download asks for, parsed: `original` and `auto` when not given. */
export type DownloadRequest = { variant: string; format: RequestedFormat }

/** `variant` and `format` as a caller sent them (absent = the defaults); INVALID_VARIANT / INVALID_FORMAT otherwise. */
export function parseDownloadRequest(input: { variant?: string | undefined; format?: string | undefined }): DownloadRequest {
  const variant = input.variant ?? ORIGINAL_VARIANT
  if (!variantName.test(variant)) {
    throw new AppError(
      'invalid',
      'INVALID_VARIANT',
      `variant must be original or a variant name (${VARIANT_NAME_PATTERN}); got ${JSON.stringify(variant.slice(0, 40))}`,
    )
  }
  const format = input.format ?? AUTO_FORMAT
  if (format !== AUTO_FORMAT && !(DOWNLOAD_FORMATS as readonly string[]).includes(format)) {
    throw new AppError(
      'invalid',
      'INVALID_FORMAT',
      `format must be auto or one of ${DOWNLOAD_FORMATS.join(', ')}; got ${JSON.stringify(format.slice(0, 40))}`,
    )
  }
  return { variant, format: format as RequestedFormat }
}

/**
 * A ready image of the caller's that lacks the asked variant, or that format of it. Told
 * apart from IMAGE_NOT_FOUND only for the owner's ready images, so it says nothing about
 * anyone else's.
 */
export class VariantNotFoundError extends AppError {
  declare readonly code: 'VARIANT_NOT_FOUND'

  constructor(imageId: ImageId, request: DownloadRequest) {
    const format = request.format === AUTO_FORMAT ? '' : ` in ${request.format}`
    super('not_found', 'VARIANT_NOT_FOUND', `image ${imageId} has no variant ${request.variant}${format}`)
  }
}

/** The object a download reads, and whether the request's Accept chose it (`Vary: Accept`). */
export type DownloadSelection = { variant: string; format: DownloadFormat; objectKey: string; negotiated: boolean }

/**
 * Which stored object answers `request` for a ready record, or undefined when it has none:
 * `original` is the object at the record's key, in its own format only (`auto` or that
 * format); a variant is one of the record's `variants`, in an asked format it was generated
 * in, or for `auto` the one negotiateVariantFormat picks from `accept`.
 */
export function selectDownload(record: ImageRecord, request: DownloadRequest, accept: string | undefined): DownloadSelection | undefined {
  if (request.variant === ORIGINAL_VARIANT) {
    const own = ORIGINAL_FORMATS[record.contentType]
    if (request.format !== AUTO_FORMAT && request.format !== own) return undefined
    return { variant: ORIGINAL_VARIANT, format: own, objectKey: record.objectKey, negotiated: false }
  }
  const generated = record.variants.filter((v) => v.name === request.variant).map((v) => v.format)
  const negotiated = request.format === AUTO_FORMAT
  const format = negotiated ? negotiateVariantFormat(accept, generated) : generated.find((f) => f === request.format)
  if (format === undefined) return undefined
  return { variant: request.variant, format, objectKey: variantKeyFor(record.id, request.variant, format), negotiated }
}
