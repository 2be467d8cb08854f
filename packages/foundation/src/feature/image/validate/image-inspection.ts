import { fileTypeFromBuffer } from 'file-type'
import type { Metadata } from 'sharp'
import type { ImageLimits } from '../../../common/config.ts'
import type { FailureReason, ImageContentType } from '../../../shared/image/image.ts'
import type { DecodedFrames } from '../variants/derive-variants.ts'
import { readHeaderDimensions } from './header-dimensions.ts'
import { decodeFully, readDecoderMetadata } from './sharp-decoder.ts'
import { walkGif, walkPng } from './container-structure.ts'
import { inspectAnimation, inspectDeclaredFrames } from './png-animation.ts'

/**
 * The content rule of the upload corpus (shared/corpus/README.md), split in two phases so a
 * hostile object costs almost nothing: `inspectHead` needs only the first HEAD_BYTES bytes
 * (one ranged GET), `inspectContent` runs on the whole object once the head passed.
 * Each step stops at the first failure with its own reason.
 */
type Failed = { ok: false; reason: FailureReason; detail: string }
export type Inspection = { ok: true } | Failed
/**
 * A passed content inspection carries what the decoder read of the header and, for a small
 * still, the pixels its strict decode produced, for the variants.
 */
export type ContentInspection = { ok: true; header: Metadata; decoded?: DecodedFrames } | Failed

/** file-type's own sample size; it also covers every header we read ourselves except JPEG's SOF. */
export const HEAD_BYTES = 4100

const PASS: Inspection = { ok: true }
const fail = (reason: FailureReason, detail: string): Failed => ({ ok: false, reason, detail })

/** Signatures that must sit at byte 0: file-type skips a UTF-8 BOM, browsers and we do not. */
const SIGNATURE_AT_START: Record<ImageContentType, (head: Uint8Array) => boolean> = {
  'image/jpeg': (h) => h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff,
  'image/png': (h) => latin1(h, 0, 8) === '\x89PNG\r\n\x1a\n',
  'image/gif': (h) => latin1(h, 0, 6) === 'GIF87a' || latin1(h, 0, 6) === 'GIF89a',
  'image/webp': (h) => latin1(h, 0, 4) === 'RIFF' && latin1(h, 8, 4) === 'WEBP',
  'image/avif': (h) => latin1(h, 4, 4) === 'ftyp',
}

function latin1(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length))
}

/** Steps 3 and 4: magic bytes equal the declared type, header canvas within the pixel limit. */
export async function inspectHead(head: Uint8Array, declared: ImageContentType, limits: ImageLimits): Promise<Inspection> {
  const detected = await fileTypeFromBuffer(head)
  if (detected === undefined) return fail('not_an_image', 'no known signature')
  const mime = detected.mime === 'image/apng' ? 'image/png' : detected.mime
  if (mime !== declared) return fail('type_mismatch', `content is ${detected.mime}`)
  if (!SIGNATURE_AT_START[declared](head)) return fail('not_an_image', 'bytes before the signature')

  const header = readHeaderDimensions(head, declared)
  if (header === null) return PASS
  if (header.width === 0 || header.height === 0) return fail('corrupt', 'header declares a zero dimension')
  if (header.width * header.height > limits.maxFramePixels) {
    return fail('too_many_pixels', `header declares ${header.width}x${header.height}`)
  }
  return declared === 'image/png' ? inspectDeclaredFrames(head, header, limits) : PASS
}

/** sharp's names for the allowed types; AVIF is HEIF with AV1 compression. */
const DECODER_FORMAT: Record<ImageContentType, string> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/avif': 'heif',
}

/**
 * Steps 5 to 7: decoder metadata within limits, a full strict decode, a complete container.
 * A PNG is walked before the decode: the walk is cheap (CRCs of at most MAX_UPLOAD_BYTES) and
 * an APNG's frames, which libvips never reads, must be within limits before anything inflates.
 */
export async function inspectContent(bytes: Uint8Array, declared: ImageContentType, limits: ImageLimits): Promise<ContentInspection> {
  const metadata = await readDecoderMetadata(bytes)
  if (!metadata.ok) return fail(metadata.reason, metadata.detail)
  const m = metadata.value
  if (m.format !== DECODER_FORMAT[declared]) return fail('type_mismatch', `decoder sees ${m.format}`)
  if (declared === 'image/avif' && m.compression !== 'av1') return fail('type_mismatch', `HEIF with ${m.compression ?? 'no'} compression`)
  if (m.width === 0 || m.frameHeight === 0) return fail('corrupt', 'decoder reports a zero dimension')

  const framePixels = m.width * m.frameHeight
  const totalPixels = framePixels * m.frames
  if (framePixels > limits.maxFramePixels) return fail('too_many_pixels', `frame is ${m.width}x${m.frameHeight}`)
  if (m.frames > limits.maxFrames) return fail('too_many_frames', `${m.frames} frames`)
  if (totalPixels > limits.maxTotalPixels) return fail('too_many_pixels', `${totalPixels} pixels over ${m.frames} frames`)

  if (declared === 'image/png') {
    const png = walkPng(bytes)
    if (png.verdict !== 'complete') return fail(png.verdict, `image/png container is ${png.verdict}: ${png.detail}`)
    if (png.animation !== null) {
      const animation = await inspectAnimation(png.header, png.animation, limits)
      if (!animation.ok) return animation
    }
  }

  // The decoder's own limit is the configured one, in case the real stream disagrees with its metadata.
  const limitInputPixels = m.frames > 1 ? limits.maxTotalPixels : limits.maxFramePixels
  const decoded = await decodeFully(bytes, { ...m, limitInputPixels })
  if (!decoded.ok) return fail(decoded.reason, decoded.detail)

  const structure = declared === 'image/gif' ? walkGif(bytes) : 'complete'
  if (structure !== 'complete') return fail(structure, `${declared} container is ${structure}`)
  return { ok: true, header: m.header, ...(decoded.value === null ? {} : { decoded: decoded.value }) }
}
