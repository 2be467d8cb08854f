import exifr from 'exifr'
import sharp, { type Metadata } from 'sharp'
import { rgbaToThumbHash } from 'thumbhash'
import type { RemovedMetadata } from '../../../shared/image/image.ts'
import type { ImageVariantFormat as VariantFormat, VariantConfig } from '../../../common/variant-settings.ts'
import { VARIANT_CONTENT_TYPES } from './variant-config.ts'

export type DerivedVariant = {
  name: string
  format: VariantFormat
  width: number
  height: number
  sizeBytes: number
  contentType: string
  bytes: Buffer
}

export type Derivation = {
  /** The original's size as displayed, after EXIF rotation. */
  width: number
  height: number
  variants: DerivedVariant[]
  /** ThumbHash of the image, base64. */
  placeholder: string
  metadataRemoved: RemovedMetadata[]
}

type Decoded = { pixels: Buffer; width: number; frameHeight: number; frames: number; channels: 3 | 4 }

/**
 * Derives every configured size × format from bytes that validation has already judged.
 * The original is decoded once, already shrunk to the largest size (libvips' shrink-on-load
 * for JPEG and WebP), auto-rotated and converted to 8-bit sRGB; each smaller size is resized
 * from the next larger one, never from the original again. Every output is encoded without
 * EXIF, GPS, XMP, IPTC or comments (sharp writes none unless asked), in sRGB. An animation
 * keeps at most `maxFrames` frames, and only WebP keeps it animated.
 */
export async function deriveVariants(bytes: Uint8Array, config: VariantConfig, options: { limitInputPixels: number }): Promise<Derivation> {
  const meta = await sharp(bytes, { limitInputPixels: options.limitInputPixels }).metadata()
  const sourceFrames = meta.pages ?? 1
  const frames = Math.min(sourceFrames, config.maxFrames)
  const animated = frames > 1
  const rotated = (meta.orientation ?? 1) >= 5
  const storedWidth = meta.width ?? 0
  const storedHeight = meta.pageHeight ?? meta.height ?? 0
  const width = rotated ? storedHeight : storedWidth
  const height = rotated ? storedWidth : storedHeight
  const largest = Math.max(...config.sizes.map((s) => s.longestEdge))

  const decoded = await decode(bytes, {
    frames,
    animated,
    largest,
    limitInputPixels: options.limitInputPixels,
    wideProfile: meta.depth === 'ushort' && meta.icc !== undefined,
  })
  const bySize = [...config.sizes].sort((a, b) => b.longestEdge - a.longestEdge)
  const variants: DerivedVariant[] = []
  let from = decoded
  for (const size of bySize) {
    const current = await shrink(from, size.longestEdge)
    for (const format of config.formats) {
      variants.push({
        name: size.name,
        ...(await encode(current, format, { animated, delay: meta.delay?.slice(0, frames), loop: meta.loop })),
      })
    }
    from = current
  }
  const order = new Map(config.sizes.map((s, i) => [s.name, i]))
  variants.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0))
  return {
    width,
    height,
    variants,
    placeholder: await thumbHash(from),
    metadataRemoved: await readRemovedMetadata(bytes, meta),
  }
}

/**
 * The one decode: shrunk on load to the largest size, rotated, as 8-bit sRGB pixels. libvips
 * converts an 8-bit image with an embedded profile, and CMYK, to sRGB as it loads; a 16-bit
 * image with a profile is converted to Display P3 instead, so that one is taken on to sRGB
 * here. The encoders then get sRGB pixels and attach no profile (untagged means sRGB), so no
 * output pays for a colour transform.
 */
async function decode(
  bytes: Uint8Array,
  o: { frames: number; animated: boolean; largest: number; limitInputPixels: number; wideProfile: boolean },
): Promise<Decoded> {
  const pipeline = sharp(bytes, { limitInputPixels: o.limitInputPixels, ...(o.animated ? { pages: o.frames } : {}) })
    .rotate()
    .resize(o.largest, o.largest, { fit: 'inside', withoutEnlargement: true })
  const { data, info } = await (o.wideProfile ? pipeline.withIccProfile('srgb') : pipeline)
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
  const channels = info.channels === 4 ? 4 : 3
  const frameHeight = info.pageHeight ?? info.height
  return { pixels: data, width: info.width, frameHeight, frames: Math.round(info.height / frameHeight), channels }
}

/** The pixels as a sharp input; an animation as its frames (`pages: -1`), so a resize sizes each frame, not the strip. */
const rawInput = (d: Decoded) =>
  sharp(d.pixels, {
    raw: { width: d.width, height: d.frameHeight * d.frames, channels: d.channels, ...(d.frames > 1 ? { pageHeight: d.frameHeight } : {}) },
    ...(d.frames > 1 ? { pages: -1 } : {}),
  })

/** The decoded image with its longest edge at most `edge`, never enlarged, never empty. */
async function shrink(d: Decoded, edge: number): Promise<Decoded> {
  if (Math.max(d.width, d.frameHeight) <= edge) return d
  const scale = edge / Math.max(d.width, d.frameHeight)
  const width = Math.max(1, Math.round(d.width * scale))
  const frameHeight = Math.max(1, Math.round(d.frameHeight * scale))
  const { data, info } = await rawInput(d).resize(width, frameHeight, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true })
  return { pixels: data, width: info.width, frameHeight: info.pageHeight ?? info.height, frames: d.frames, channels: d.channels }
}

async function encode(
  d: Decoded,
  format: VariantFormat,
  o: { animated: boolean; delay: number[] | undefined; loop: number | undefined },
): Promise<Omit<DerivedVariant, 'name'>> {
  // Only WebP keeps an animation; AVIF and JPEG take the first frame.
  const keepAnimation = o.animated && format === 'webp'
  const input = keepAnimation
    ? rawInput(d)
    : rawInput({ ...d, frames: 1, pixels: d.pixels.subarray(0, d.width * d.frameHeight * d.channels) })
  const encoded =
    format === 'webp'
      ? input.webp({ quality: 80, effort: 2, ...(keepAnimation ? { delay: o.delay, loop: o.loop ?? 0 } : {}) })
      : format === 'avif'
        ? input.avif({ quality: 55, effort: 2 })
        : input.flatten({ background: '#ffffff' }).jpeg({ quality: 82, mozjpeg: true })
  const bytes = await encoded.toBuffer()
  return { format, width: d.width, height: d.frameHeight, sizeBytes: bytes.length, contentType: VARIANT_CONTENT_TYPES[format], bytes }
}

/** ThumbHash takes at most 100×100 RGBA. */
async function thumbHash(d: Decoded): Promise<string> {
  const first = rawInput({ ...d, frames: 1, pixels: d.pixels.subarray(0, d.width * d.frameHeight * d.channels) })
  const { data, info } = await first
    .resize(100, 100, { fit: 'inside', withoutEnlargement: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  return Buffer.from(rgbaToThumbHash(info.width, info.height, data)).toString('base64')
}

/**
 * What the original carried, read with an EXIF parser (a GPS block counts only when it holds
 * GPS tags) and, for comments, libvips' reading of PNG text chunks and the bytes' JPEG COM
 * segments.
 */
async function readRemovedMetadata(bytes: Uint8Array, meta: Metadata): Promise<RemovedMetadata[]> {
  const removed: RemovedMetadata[] = []
  const parsed = await readMetadataBlocks(bytes, meta)
  const has = (block: string) => Object.keys(parsed[block] ?? {}).length > 0
  if (meta.exif !== undefined || has('ifd0') || has('exif')) removed.push('exif')
  if (has('gps')) removed.push('gps')
  if (meta.xmp !== undefined || has('xmp')) removed.push('xmp')
  if (meta.iptc !== undefined || has('iptc')) removed.push('iptc')
  if ((meta.comments?.length ?? 0) > 0 || hasComment(bytes, meta.format)) removed.push('comment')
  return removed
}

type MetadataBlocks = Record<string, Record<string, unknown> | undefined>
const EXIFR_OPTIONS = { tiff: true, exif: true, gps: true, xmp: true, iptc: true, icc: false, jfif: false, ihdr: false, mergeOutput: false }
const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1')

/**
 * The EXIF, GPS, XMP and IPTC blocks of an image, read by exifr. exifr reads JPEG, PNG, AVIF
 * and HEIC files but not WebP or GIF; for those, the EXIF block libvips found is parsed
 * (a TIFF structure behind an `Exif\0\0` header).
 */
export async function readMetadataBlocks(bytes: Uint8Array, meta?: Metadata): Promise<MetadataBlocks> {
  const parse = async (input: Buffer): Promise<MetadataBlocks | undefined> => {
    try {
      return ((await exifr.parse(input, EXIFR_OPTIONS)) as MetadataBlocks | undefined) ?? {}
    } catch {
      return undefined
    }
  }
  const direct = await parse(Buffer.from(bytes))
  if (direct !== undefined) return direct
  const exif = (meta ?? (await sharp(bytes).metadata())).exif
  if (exif === undefined) return {}
  const tiff = exif.subarray(0, EXIF_HEADER.length).equals(EXIF_HEADER) ? exif.subarray(EXIF_HEADER.length) : exif
  return (await parse(Buffer.from(tiff))) ?? {}
}

/** JPEG COM (FF FE) segments before the scan. */
function hasComment(bytes: Uint8Array, format: string | undefined): boolean {
  if (format === 'jpeg') {
    let i = 2
    while (i + 4 <= bytes.length && bytes[i] === 0xff) {
      const marker = bytes[i + 1] ?? 0
      if (marker === 0xfe) return true
      if (marker === 0xda) return false
      i += 2 + (((bytes[i + 2] ?? 0) << 8) | (bytes[i + 3] ?? 0))
    }
    return false
  }
  return false
}
