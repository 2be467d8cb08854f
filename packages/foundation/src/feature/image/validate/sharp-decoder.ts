import { availableParallelism } from 'node:os'
import sharp, { type Metadata } from 'sharp'
import { AppError } from '../../../common/errors.ts'
import type { FailureReason } from '../../../shared/image/image.ts'
import { type DecodedFrames, decodePixels, hasWideProfile } from '../variants/derive-variants.ts'

// Each upload is decoded once: libvips' operation cache would only hold memory. One libvips
// thread per image keeps a worker's CPU use proportional to PROCESSOR_CONCURRENCY (sharp
// runs on libuv's pool, off the main thread) instead of every image grabbing every core.
sharp.cache(false)
sharp.concurrency(Math.max(1, Math.min(2, availableParallelism() - 1)))

type Result<T> = { ok: true; value: T } | { ok: false; reason: FailureReason; detail: string }

export type DecoderMetadata = {
  format: string
  compression: string | undefined
  width: number
  /** Height of one frame: sharp stacks animation frames vertically. */
  frameHeight: number
  frames: number
  /** Everything libvips read of the header, for the variants to reuse. */
  header: Metadata
}

/** Header parsing only: libvips does not decode pixels to answer this. */
export async function readDecoderMetadata(bytes: Uint8Array): Promise<Result<DecoderMetadata>> {
  try {
    // limitInputPixels: false so a huge header is *reported* (and refused by our limits) rather than thrown.
    const m = await sharp(bytes, { limitInputPixels: false }).metadata()
    return {
      ok: true,
      value: {
        format: m.format,
        compression: m.compression,
        width: m.width ?? 0,
        frameHeight: m.pageHeight ?? m.height ?? 0,
        frames: m.pages ?? 1,
        header: m,
      },
    }
  } catch (error) {
    return classify(error)
  }
}

/**
 * Stills of at most this many pixels keep what the strict decode produced (4 MiB of RGBA at
 * most), for the variants: deriving them then decodes nothing again. A libvips pipeline costs
 * about 0.25-0.5 ms of the main thread before any pixel (bench/notes.md), much of a small
 * upload's processing.
 */
export const KEEP_DECODED_MAX_PIXELS = 1024 * 1024

/**
 * Decodes every pixel of every frame, failing on decoder warnings, with bounded memory.
 * Asking for the bottom-right pixel of each frame makes libvips pull
 * every row before it through the decoder, but keeps no output buffer. Measured on the
 * corpus's 12 Mpx JPEG: this ~50 ms and ~0 MB, `.raw().toBuffer()` ~75 ms and 36 MB,
 * `.stats()` ~750 ms; a 1x1 resize is fastest but uses JPEG shrink-on-load and missed a
 * corrupted scan, so it is not a full decode.
 *
 * A still of at most KEEP_DECODED_MAX_PIXELS is decoded whole instead, as the variants decode
 * (rotated, 8-bit sRGB, no resize, so no shrink-on-load), and those pixels are the value.
 */
export async function decodeFully(
  bytes: Uint8Array,
  image: { width: number; frameHeight: number; frames: number; limitInputPixels: number; header: Metadata },
): Promise<Result<DecodedFrames | null>> {
  try {
    if (image.frames === 1 && image.width * image.frameHeight <= KEEP_DECODED_MAX_PIXELS) {
      const pixels = await decodePixels(bytes, {
        frames: 1,
        limitInputPixels: image.limitInputPixels,
        wideProfile: hasWideProfile(image.header),
        strict: true,
      })
      return { ok: true, value: pixels }
    }
    await sharp(bytes, {
      failOn: 'warning',
      limitInputPixels: image.limitInputPixels,
      sequentialRead: true,
      ...(image.frames > 1 ? { pages: -1 } : {}),
    })
      // sharp applies extract to every frame of an animation, so this is each frame's last pixel.
      .extract({ left: image.width - 1, top: image.frameHeight - 1, width: 1, height: 1 })
      .raw()
      .toBuffer()
    return { ok: true, value: null }
  } catch (error) {
    return classify(error)
  }
}

/**
 * libvips could not do the work for a reason that is not about the bytes (memory, threads,
 * temporary files, an operation missing from this build). The upload is retried, never judged.
 */
export class DecoderUnavailableError extends AppError {
  constructor(detail: string, options?: ErrorOptions) {
    super('unavailable', 'DECODER_UNAVAILABLE', `the image decoder could not run: ${detail}`, options)
  }
}

/**
 * Conditions of the process, not of the input, as libvips, libjpeg, V8 and the C library
 * word them. They are named, and everything else stays a verdict, because bad bytes come
 * with loader messages no list could hold ("VipsJpeg: Bogus DQT index 15", "source: bad
 * seek to 1024", "webp: unable to parse image", "vipspng: libpng read error"): a hostile
 * upload must always end in one. sharp folds libvips' whole error log into the message
 * (often behind "Input buffer has corrupt header:"), so every line is searched.
 */
const NOT_ABOUT_THE_BYTES = [
  // vips_malloc / vips_tracked_malloc: "out of memory -- size == 1024MB"
  /out of memory --+ size ==|\bvips_tracked\b|\bvips_malloc\b/i,
  // libjpeg's JERR_OUT_OF_MEMORY; V8 failing to allocate the output buffer
  /insufficient memory \(case|array buffer allocation failed/i,
  // errno names and their strerror texts
  /\b(ENOMEM|EMFILE|ENFILE|ENOSPC|EAGAIN)\b|cannot allocate memory|too many open files|no space left on device|resource temporarily unavailable/i,
  // the worker threads libvips starts per pipeline
  /unable to create thread|vips_g_thread_new|threadset|thread ?pool/i,
  // VipsOperation: class "jpegload_buffer" not found (a loader missing from this libvips build)
  /class "[^"]*" not found/i,
  // temporary files and mappings of large images
  /unable to open for write|vips__file_open_write|vips__open_image_write|vips_image_new_temp_file|temporary file|unable to mmap/i,
]
const TRUNCATION = /truncat|premature|unexpected end|end of (file|data|stream)|not enough data|short read/i
const PIXEL_LIMIT = /pixel limit/i

/** A verdict on the bytes, or DecoderUnavailableError (thrown) when the decoder itself failed. */
function classify(error: unknown): { ok: false; reason: FailureReason; detail: string } {
  const lines = (error instanceof Error ? error.message : String(error)).split('\n')
  const unavailable = lines.find((line) => NOT_ABOUT_THE_BYTES.some((pattern) => pattern.test(line)))
  if (unavailable !== undefined) throw new DecoderUnavailableError(unavailable, { cause: error })
  const detail = lines[0] ?? ''
  if (PIXEL_LIMIT.test(detail)) return { ok: false, reason: 'too_many_pixels', detail }
  if (TRUNCATION.test(detail)) return { ok: false, reason: 'truncated', detail }
  return { ok: false, reason: 'corrupt', detail }
}
