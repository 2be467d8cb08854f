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

export type DecodedFrames = { pixels: Buffer; width: number; frameHeight: number; frames: number; channels: 3 | 4 }

/**
 * Most pixels an animated variant holds over all its frames (50 frames of 400x400). A size
 * whose animation would be larger is its first frame instead: encoding an animated WebP costs
 * about 30 ns per pixel here, so this bounds one animated variant to about 250 ms and its
 * decoded frames to 32 MB, whatever the upload (DESIGN: an animation at the limits must not
 * hold a worker for seconds). Common animations (480x270, 50 frames) stay animated at every
 * size they reach.
 */
export const ANIMATED_VARIANT_MAX_PIXELS = 8_000_000

/**
 * Derives every configured size × format from bytes that validation has already judged.
 * The original is decoded once, already shrunk to the largest size (libvips' shrink-on-load
 * for JPEG and WebP), auto-rotated and converted to 8-bit sRGB; each smaller size is resized
 * from the next larger one, never from the original again, and sizes that come out the same
 * (a source smaller than several sizes) are encoded once. Every output is encoded without
 * EXIF, GPS, XMP, IPTC or comments (sharp writes none unless asked), in sRGB.
 *
 * An animation keeps at most `maxFrames` frames, and only its WebP variants stay animated,
 * those within ANIMATED_VARIANT_MAX_PIXELS; its other variants are the first frame. It is
 * then decoded twice, each decode bounded: its first frame at the largest size, and its
 * frames at the largest animated size only.
 */
export async function deriveVariants(
  bytes: Uint8Array,
  config: VariantConfig,
  options: {
    limitInputPixels: number
    maxAnimatedPixels?: number
    /** sharp's metadata of these bytes, when the caller has read it already (validation has). */
    header?: Metadata | undefined
    /**
     * The first frame at full size, as `decodePixels` gives it, when the caller decoded it
     * already (validation's strict decode of a small still does); the variants then decode nothing.
     */
    decoded?: DecodedFrames | undefined
  },
): Promise<Derivation> {
  const maxAnimatedPixels = options.maxAnimatedPixels ?? ANIMATED_VARIANT_MAX_PIXELS
  const meta = options.header ?? (await sharp(bytes, { limitInputPixels: options.limitInputPixels }).metadata())
  const frames = Math.min(meta.pages ?? 1, config.maxFrames)
  const rotated = (meta.orientation ?? 1) >= 5
  const storedWidth = meta.width ?? 0
  const storedHeight = meta.pageHeight ?? meta.height ?? 0
  const width = rotated ? storedHeight : storedWidth
  const height = rotated ? storedWidth : storedHeight
  const bySize = [...config.sizes].sort((a, b) => b.longestEdge - a.longestEdge)
  const decodeOptions = { limitInputPixels: options.limitInputPixels, wideProfile: hasWideProfile(meta) }

  // The sizes whose WebP stays animated: the animation fits the pixel budget at that size.
  const animatedSizes =
    frames > 1 && config.formats.includes('webp')
      ? bySize.filter((size) => frames * fittedPixels(width, height, size.longestEdge) <= maxAnimatedPixels)
      : []
  const animation = { delay: meta.delay?.slice(0, frames), loop: meta.loop }
  const encoded = new Map<string, Promise<Omit<DerivedVariant, 'name'>>>()
  /** Encodes each distinct (pixels, format) once; equal sizes share the result. */
  const encodeOnce = (d: DecodedFrames, format: VariantFormat) => {
    const key = `${d.width}x${d.frameHeight}x${d.frames}:${format}`
    const known = encoded.get(key) ?? encode(d, format, animation)
    encoded.set(key, known)
    return known
  }

  const variants: DerivedVariant[] = []
  let still =
    options.decoded?.frames === 1
      ? options.decoded
      : await decodePixels(bytes, { ...decodeOptions, frames: 1, edge: bySize[0]?.longestEdge ?? 1 })
  const stills: DecodedFrames[] = []
  for (const size of bySize) {
    still = await shrink(still, size.longestEdge)
    stills.push(still)
  }
  let moving =
    animatedSizes.length === 0
      ? undefined
      : await decodePixels(bytes, { ...decodeOptions, frames, edge: animatedSizes[0]?.longestEdge ?? 1 })
  for (const [index, size] of bySize.entries()) {
    const animatedHere = moving !== undefined && animatedSizes.includes(size)
    if (animatedHere && moving !== undefined) moving = await shrink(moving, size.longestEdge)
    for (const format of config.formats) {
      const from = animatedHere && format === 'webp' && moving !== undefined ? moving : (stills[index] as DecodedFrames)
      variants.push({ name: size.name, ...(await encodeOnce(from, format)) })
    }
  }
  const order = new Map(config.sizes.map((s, i) => [s.name, i]))
  variants.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0))
  return {
    width,
    height,
    variants,
    placeholder: await thumbHash(still),
    metadataRemoved: await readRemovedMetadata(bytes, meta),
  }
}

/** Pixels of one frame once fitted inside edge x edge, never enlarged. */
function fittedPixels(width: number, height: number, edge: number): number {
  const scale = Math.min(1, edge / Math.max(width, height, 1))
  return Math.max(1, Math.round(width * scale)) * Math.max(1, Math.round(height * scale))
}

/** A 16-bit image with an embedded profile, which libvips loads as Display P3 rather than sRGB. */
export const hasWideProfile = (meta: Pick<Metadata, 'depth' | 'icc'>): boolean => meta.depth === 'ushort' && meta.icc !== undefined

/**
 * The decode: shrunk on load to `edge` (none when unset), rotated, as 8-bit sRGB pixels. libvips
 * converts an 8-bit image with an embedded profile, and CMYK, to sRGB as it loads; a 16-bit
 * image with a profile is converted to Display P3 instead, so that one is taken on to sRGB
 * here. The encoders then get sRGB pixels and attach no profile (untagged means sRGB), so no
 * output pays for a colour transform. `strict` fails on the decoder's warnings and reads the
 * input once, front to back, as the validation's full decode does.
 */
export async function decodePixels(
  bytes: Uint8Array,
  o: { frames: number; edge?: number; limitInputPixels: number; wideProfile: boolean; strict?: boolean },
): Promise<DecodedFrames> {
  const loaded = sharp(bytes, {
    limitInputPixels: o.limitInputPixels,
    ...(o.frames > 1 ? { pages: o.frames } : {}),
    ...(o.strict === true ? { failOn: 'warning', sequentialRead: true } : {}),
  }).rotate()
  const pipeline = o.edge === undefined ? loaded : loaded.resize(o.edge, o.edge, { fit: 'inside', withoutEnlargement: true })
  const { data, info } = await (o.wideProfile ? pipeline.withIccProfile('srgb') : pipeline)
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
  const channels = info.channels === 4 ? 4 : 3
  const frameHeight = info.pageHeight ?? info.height
  return { pixels: data, width: info.width, frameHeight, frames: Math.round(info.height / frameHeight), channels }
}

/** The pixels as a sharp input; an animation as its frames (`pages: -1`), so a resize sizes each frame, not the strip. */
const rawInput = (d: DecodedFrames) =>
  sharp(d.pixels, {
    raw: { width: d.width, height: d.frameHeight * d.frames, channels: d.channels, ...(d.frames > 1 ? { pageHeight: d.frameHeight } : {}) },
    ...(d.frames > 1 ? { pages: -1 } : {}),
  })

/** The decoded image with its longest edge at most `edge`, never enlarged, never empty. */
async function shrink(d: DecodedFrames, edge: number): Promise<DecodedFrames> {
  if (Math.max(d.width, d.frameHeight) <= edge) return d
  const scale = edge / Math.max(d.width, d.frameHeight)
  const width = Math.max(1, Math.round(d.width * scale))
  const frameHeight = Math.max(1, Math.round(d.frameHeight * scale))
  const { data, info } = await rawInput(d).resize(width, frameHeight, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true })
  return { pixels: data, width: info.width, frameHeight: info.pageHeight ?? info.height, frames: d.frames, channels: d.channels }
}

/** Encodes the pixels as they are: animated when they hold several frames (WebP only). */
async function encode(
  d: DecodedFrames,
  format: VariantFormat,
  o: { delay: number[] | undefined; loop: number | undefined },
): Promise<Omit<DerivedVariant, 'name'>> {
  const keepAnimation = d.frames > 1
  const input = rawInput(d)
  const encoded =
    format === 'webp'
      ? input.webp({ quality: 80, effort: 2, ...(keepAnimation ? { delay: o.delay, loop: o.loop ?? 0 } : {}) })
      : format === 'avif'
        ? input.avif({ quality: 55, effort: 2 })
        : input.flatten({ background: '#ffffff' }).jpeg({ quality: 82, mozjpeg: true })
  const bytes = await encoded.toBuffer()
  return { format, width: d.width, height: d.frameHeight, sizeBytes: bytes.length, contentType: VARIANT_CONTENT_TYPES[format], bytes }
}

/**
 * The edge the placeholder is hashed at. ThumbHash keeps only a few low frequencies (at most
 * 7 per axis) and takes up to 100x100 pixels, but 32 pixels hold every frequency it keeps:
 * hashing 32x32 costs about 0.08 ms here, 100x100 about 0.8 ms (a tenth of a small upload's
 * processor CPU), for a placeholder a viewer cannot tell apart.
 */
export const PLACEHOLDER_EDGE = 32

/**
 * Frames up to this many pixels are shrunk for the placeholder in JavaScript (a box average,
 * about 0.1 ms for 256x256 here) rather than by a libvips pipeline, whose fixed cost (about
 * 0.25 ms on the main thread plus the worker's, bench/notes.md) is much of a small upload's
 * derivation. Larger frames go through libvips.
 */
const PLACEHOLDER_BOX_MAX_PIXELS = 256 * 256

/** The ThumbHash of the first frame, fitted inside PLACEHOLDER_EDGE. */
async function thumbHash(d: DecodedFrames): Promise<string> {
  const framePixels = d.width * d.frameHeight
  if (framePixels <= PLACEHOLDER_BOX_MAX_PIXELS) {
    const { width, height, rgba } = boxShrinkToRgba(d, PLACEHOLDER_EDGE)
    return Buffer.from(rgbaToThumbHash(width, height, rgba)).toString('base64')
  }
  const first = rawInput({ ...d, frames: 1, pixels: d.pixels.subarray(0, framePixels * d.channels) })
  const { data, info } = await first
    .resize(PLACEHOLDER_EDGE, PLACEHOLDER_EDGE, { fit: 'inside', withoutEnlargement: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  return Buffer.from(rgbaToThumbHash(info.width, info.height, data)).toString('base64')
}

/**
 * The first frame fitted inside edge x edge (never enlarged) as RGBA: each output pixel the
 * average of the source pixels its box covers. Opaque when the source has no alpha.
 */
export function boxShrinkToRgba(d: DecodedFrames, edge: number): { width: number; height: number; rgba: Uint8Array } {
  const scale = Math.min(1, edge / Math.max(d.width, d.frameHeight))
  const width = Math.max(1, Math.round(d.width * scale))
  const height = Math.max(1, Math.round(d.frameHeight * scale))
  const rgba = new Uint8Array(width * height * 4)
  const { pixels, channels } = d
  for (let y = 0; y < height; y++) {
    const top = Math.floor((y * d.frameHeight) / height)
    const bottom = Math.max(top + 1, Math.floor(((y + 1) * d.frameHeight) / height))
    for (let x = 0; x < width; x++) {
      const left = Math.floor((x * d.width) / width)
      const right = Math.max(left + 1, Math.floor(((x + 1) * d.width) / width))
      let r = 0
      let g = 0
      let b = 0
      let a = 0
      for (let sy = top; sy < bottom; sy++) {
        let at = (sy * d.width + left) * channels
        for (let sx = left; sx < right; sx++, at += channels) {
          r += pixels[at] as number
          g += pixels[at + 1] as number
          b += pixels[at + 2] as number
          a += channels === 4 ? (pixels[at + 3] as number) : 255
        }
      }
      const count = (bottom - top) * (right - left)
      const out = (y * width + x) * 4
      rgba[out] = Math.round(r / count)
      rgba[out + 1] = Math.round(g / count)
      rgba[out + 2] = Math.round(b / count)
      rgba[out + 3] = Math.round(a / count)
    }
  }
  return { width, height, rgba }
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
