import { phoneJpeg, readCorpusFile, readCorpusManifest, TEST_IMAGE_LIMITS } from '@image-service/devstack/corpus'
import sharp from 'sharp'
import { rgbaToThumbHash, thumbHashToAverageRGBA, thumbHashToRGBA } from 'thumbhash'
import { describe, expect, it } from 'vitest'
import { boxShrinkToRgba, type DerivedVariant, deriveVariants, PLACEHOLDER_EDGE, readMetadataBlocks } from './derive-variants.ts'
import { DEFAULT_VARIANT_CONFIG, type VariantConfig } from '../../../common/variant-settings.ts'
import { decodeFully } from '../validate/sharp-decoder.ts'

const limits = { limitInputPixels: TEST_IMAGE_LIMITS.maxTotalPixels }
const ALL_FORMATS: VariantConfig = { ...DEFAULT_VARIANT_CONFIG, formats: ['webp', 'avif', 'jpeg'] }

const sizeOf = async (v: DerivedVariant) => {
  const m = await sharp(v.bytes, { pages: -1 }).metadata()
  return { width: m.width, height: m.pageHeight ?? m.height, frames: m.pages ?? 1, format: m.format, space: m.space, depth: m.depth }
}

/** An animated GIF whose frame f is all grey 40 + 60 f, so a frame mixed into another would show. */
async function greyFramesGif(frames: number, width: number, height: number): Promise<Buffer> {
  const strip = Buffer.alloc(width * height * frames * 3)
  for (let f = 0; f < frames; f++) strip.fill(40 + f * 60, f * width * height * 3, (f + 1) * width * height * 3)
  return sharp(strip, { raw: { width, height: height * frames, channels: 3, pageHeight: height } })
    .gif({ delay: Array.from({ length: frames }, () => 100) })
    .toBuffer()
}

describe('deriveVariants', () => {
  it('removes EXIF and GPS from a GPS-tagged JPEG, as the EXIF parser reads the variants back, and reports gps', async () => {
    const original = await phoneJpeg()
    expect(Object.keys((await readMetadataBlocks(original)).gps ?? {})).not.toHaveLength(0)
    const d = await deriveVariants(original, ALL_FORMATS, limits)
    expect(d.metadataRemoved).toEqual(expect.arrayContaining(['exif', 'gps']))
    expect(d.variants).toHaveLength(9)
    for (const v of d.variants) {
      expect(await readMetadataBlocks(v.bytes), `${v.name}.${v.format}`).toEqual({})
      const m = await sharp(v.bytes).metadata()
      expect(m.exif, `${v.name}.${v.format}`).toBeUndefined()
      expect(m.xmp).toBeUndefined()
      expect(m.iptc).toBeUndefined()
    }
  })

  it.each(['metadata-png-exif-gps-320x240.png', 'metadata-webp-exif-gps-320x240.webp', 'metadata-avif-exif-gps-320x240.avif'])(
    'removes EXIF and GPS from the corpus file %s',
    async (file) => {
      const d = await deriveVariants(readCorpusFile(file), ALL_FORMATS, limits)
      expect(d.metadataRemoved).toEqual(expect.arrayContaining(['exif', 'gps']))
      for (const v of d.variants) {
        expect(await readMetadataBlocks(v.bytes), `${v.name}.${v.format}`).toEqual({})
        expect((await sharp(v.bytes).metadata()).exif).toBeUndefined()
      }
    },
  )

  it('reports gps only when GPS tags are there', async () => {
    const d = await deriveVariants(readCorpusFile('metadata-jpeg-exif-orientation6-640x480.jpg'), DEFAULT_VARIANT_CONFIG, limits)
    expect(d.metadataRemoved).toContain('exif')
    expect(d.metadataRemoved).not.toContain('gps')
    const plain = await deriveVariants(readCorpusFile('valid-png-rgb-1024x768.png'), DEFAULT_VARIANT_CONFIG, limits)
    expect(plain.metadataRemoved).toEqual([])
  })

  it('reports the text chunks of a PNG as a comment removed', async () => {
    const d = await deriveVariants(readCorpusFile('metadata-png-text-chunks-320x240.png'), DEFAULT_VARIANT_CONFIG, limits)
    expect(d.metadataRemoved).toContain('comment')
    for (const v of d.variants) expect((await sharp(v.bytes).metadata()).comments ?? []).toEqual([])
  })

  it('rotates a JPEG with EXIF orientation 6 to portrait: swapped width and height', async () => {
    const d = await deriveVariants(readCorpusFile('metadata-jpeg-exif-orientation6-640x480.jpg'), DEFAULT_VARIANT_CONFIG, limits)
    expect({ width: d.width, height: d.height }).toEqual({ width: 480, height: 640 })
    const byName = Object.fromEntries(await Promise.all(d.variants.map(async (v) => [v.name, await sizeOf(v)] as const)))
    expect(byName.thumbnail).toMatchObject({ width: 225, height: 300 })
    // 800 and 1200 are larger than the original: never enlarged.
    expect(byName.medium).toMatchObject({ width: 480, height: 640 })
    expect(byName.large).toMatchObject({ width: 480, height: 640 })
    for (const v of d.variants) expect((await sharp(v.bytes).metadata()).orientation ?? 1).toBe(1)
  })

  it.each([
    [
      'a 1x1 JPEG',
      () => Promise.resolve(Buffer.from(readCorpusFile('valid-jpeg-minimal-1x1.jpg'))),
      { width: 1, height: 1 },
      { width: 1, height: 1 },
    ],
    [
      'a 1x1 GIF',
      () => Promise.resolve(Buffer.from(readCorpusFile('valid-gif-minimal-1x1.gif'))),
      { width: 1, height: 1 },
      { width: 1, height: 1 },
    ],
    [
      'a 300x10 strip',
      () =>
        sharp({ create: { width: 300, height: 10, channels: 3, background: '#808080' } })
          .png()
          .toBuffer(),
      { width: 300, height: 10 },
      { width: 300, height: 10 },
    ],
    [
      'a 3000x10 strip',
      () =>
        sharp({ create: { width: 3000, height: 10, channels: 3, background: '#808080' } })
          .png()
          .toBuffer(),
      { width: 300, height: 1 },
      { width: 1200, height: 4 },
    ],
  ])('never enlarges %s and no variant is empty', async (_name, make, thumbnail, large) => {
    const d = await deriveVariants(await make(), ALL_FORMATS, limits)
    expect(d.variants.map((v) => `${v.name}.${v.format}`).sort()).toEqual(
      ['large', 'medium', 'thumbnail'].flatMap((n) => ['avif', 'jpeg', 'webp'].map((f) => `${n}.${f}`)).sort(),
    )
    for (const v of d.variants) {
      expect(v.sizeBytes).toBeGreaterThan(0)
      const size = await sizeOf(v)
      expect({ width: size.width, height: size.height }).toEqual({ width: v.width, height: v.height })
      expect(v.width).toBeGreaterThanOrEqual(1)
      expect(v.height).toBeGreaterThanOrEqual(1)
      expect(v.width).toBeLessThanOrEqual(Math.max(d.width, 1))
    }
    expect(d.variants.find((v) => v.name === 'thumbnail')).toMatchObject(thumbnail)
    expect(d.variants.find((v) => v.name === 'large')).toMatchObject(large)
  })

  it('keeps an animated GIF animated in WebP, with the same frame count; AVIF and JPEG take the first frame', async () => {
    const d = await deriveVariants(readCorpusFile('valid-gif-animated-5frames-100x100.gif'), ALL_FORMATS, limits)
    for (const v of d.variants) {
      const size = await sizeOf(v)
      expect(size.frames, `${v.name}.${v.format}`).toBe(v.format === 'webp' ? 5 : 1)
      expect({ width: size.width, height: size.height }).toEqual({ width: 100, height: 100 })
    }
  })

  it('sizes each frame of an animation larger than the sizes, not the strip of frames: every size keeps every frame', async () => {
    const frames = 4
    const gif = await greyFramesGif(frames, 1000, 500)
    const d = await deriveVariants(gif, DEFAULT_VARIANT_CONFIG, limits)
    expect(d.variants.map((v) => [v.name, v.width, v.height])).toEqual([
      ['thumbnail', 300, 150],
      ['medium', 800, 400],
      ['large', 1000, 500],
    ])
    for (const v of d.variants) {
      expect(await sizeOf(v), v.name).toMatchObject({ width: v.width, height: v.height, frames })
      const { data, info } = await sharp(v.bytes, { pages: -1 }).raw().toBuffer({ resolveWithObject: true })
      const frameBytes = info.width * v.height * info.channels
      const greys = Array.from({ length: frames }, (_, f) => data[f * frameBytes + Math.floor(frameBytes / 2)])
      for (const [f, grey] of greys.entries()) expect(Math.abs((grey ?? 0) - (40 + f * 60)), `${v.name} frame ${f}`).toBeLessThanOrEqual(3)
    }
  })

  it('keeps the animation only in the sizes within the animated pixel budget; the larger ones are the first frame', async () => {
    const frames = 4
    const gif = await greyFramesGif(frames, 1000, 500)
    // Room for 4 frames of the 300x150 thumbnail, not of the 800x400 medium.
    const d = await deriveVariants(gif, ALL_FORMATS, { ...limits, maxAnimatedPixels: frames * 300 * 150 })
    for (const v of d.variants) {
      const animated = v.name === 'thumbnail' && v.format === 'webp'
      expect(await sizeOf(v), `${v.name}.${v.format}`).toMatchObject({ width: v.width, height: v.height, frames: animated ? frames : 1 })
    }
    expect(d.variants.filter((v) => v.name === 'medium').map((v) => [v.width, v.height])).toEqual([
      [800, 400],
      [800, 400],
      [800, 400],
    ])
  })

  it('encodes sizes that come out the same once: a source smaller than two sizes gives both the same bytes', async () => {
    const d = await deriveVariants(readCorpusFile('valid-png-rgb-1024x768.png'), DEFAULT_VARIANT_CONFIG, limits)
    const [medium, large] = ['medium', 'large'].map((name) => d.variants.find((v) => v.name === name))
    expect([medium?.width, large?.width]).toEqual([800, 1024])
    const small = await deriveVariants(readCorpusFile('valid-png-palette-trns-128x128.png'), DEFAULT_VARIANT_CONFIG, limits)
    const bytes = small.variants.map((v) => Buffer.from(v.bytes).toString('base64'))
    expect(new Set(bytes).size).toBe(1)
    expect(small.variants.map((v) => [v.name, v.width, v.height])).toEqual([
      ['thumbnail', 128, 128],
      ['medium', 128, 128],
      ['large', 128, 128],
    ])
  })

  it('keeps at most maxFrames frames of an animation', async () => {
    const d = await deriveVariants(
      readCorpusFile('valid-gif-animated-5frames-100x100.gif'),
      { ...DEFAULT_VARIANT_CONFIG, maxFrames: 3 },
      limits,
    )
    for (const v of d.variants) expect((await sizeOf(v)).frames).toBe(3)
  })

  it('converts a CMYK JPEG to 8-bit sRGB', async () => {
    const d = await deriveVariants(readCorpusFile('valid-jpeg-cmyk-320x240.jpg'), ALL_FORMATS, limits)
    for (const v of d.variants) {
      const m = await sharp(v.bytes).metadata()
      expect({ space: m.space, depth: m.depth, channels: m.channels }, `${v.name}.${v.format}`).toMatchObject({
        space: 'srgb',
        depth: 'uchar',
        channels: 3,
      })
    }
    // The corpus's CMYK file is a colour test card: its variant must not come out inverted or dark.
    const original = await sharp(readCorpusFile('valid-jpeg-cmyk-320x240.jpg'))
      .toColourspace('srgb')
      .resize(8, 8, { fit: 'fill' })
      .raw()
      .toBuffer()
    const variant = await sharp(d.variants.find((v) => v.name === 'large' && v.format === 'webp')?.bytes)
      .resize(8, 8, { fit: 'fill' })
      .raw()
      .toBuffer()
    const meanDifference = original.reduce((sum, value, i) => sum + Math.abs(value - (variant[i] ?? 0)), 0) / original.length
    expect(meanDifference).toBeLessThan(12)
  })

  it('converts a 16-bit PNG to 8-bit sRGB with the same picture', async () => {
    const source = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 60, b: 30 } } })
      .toColourspace('rgb16')
      .png()
      .toBuffer()
    expect((await sharp(source).metadata()).depth).toBe('ushort')
    const d = await deriveVariants(source, ALL_FORMATS, limits)
    for (const v of d.variants) {
      const m = await sharp(v.bytes).metadata()
      expect({ space: m.space, depth: m.depth }, `${v.name}.${v.format}`).toEqual({ space: 'srgb', depth: 'uchar' })
      const { dominant } = await sharp(v.bytes).stats()
      expect(Math.abs(dominant.r - 200) + Math.abs(dominant.g - 60) + Math.abs(dominant.b - 30), `${v.name}.${v.format}`).toBeLessThan(40)
    }
  })

  it('converts a 16-bit PNG with an embedded wide-gamut profile to sRGB, not to its Display P3 numbers', async () => {
    // Pixels of sRGB (200, 60, 30), stored as Display P3 numbers with the P3 profile embedded.
    const source = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 60, b: 30 } } })
      .toColourspace('rgb16')
      .withIccProfile('p3')
      .png()
      .toBuffer()
    expect((await sharp(source).metadata()).depth).toBe('ushort')
    const d = await deriveVariants(source, ALL_FORMATS, limits)
    for (const v of d.variants) {
      const { dominant } = await sharp(v.bytes).stats()
      expect(Math.abs(dominant.r - 200) + Math.abs(dominant.g - 60) + Math.abs(dominant.b - 30), `${v.name}.${v.format}`).toBeLessThan(24)
    }
  })

  it.each([
    ['an RGB', 'valid-png-paeth-filter-pngsuite-f04n2c08.png'],
    ['a transparent', 'valid-png-trns-palette-pngsuite-tbbn3p08.png'],
    ['a 1x1', 'valid-gif-minimal-1x1.gif'],
  ])('gives %s image of at most PLACEHOLDER_EDGE the ThumbHash of its own pixels, read without a resize', async (_kind, file) => {
    const bytes = readCorpusFile(file)
    const d = await deriveVariants(bytes, DEFAULT_VARIANT_CONFIG, limits)
    const { data, info } = await sharp(bytes)
      .resize(PLACEHOLDER_EDGE, PLACEHOLDER_EDGE, { fit: 'inside', withoutEnlargement: true })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
    expect(d.placeholder).toBe(Buffer.from(rgbaToThumbHash(info.width, info.height, data)).toString('base64'))
  })

  it('gives a ThumbHash placeholder small enough to inline', async () => {
    const d = await deriveVariants(readCorpusFile('valid-jpeg-baseline-1024x768.jpg'), DEFAULT_VARIANT_CONFIG, limits)
    const hash = Buffer.from(d.placeholder, 'base64')
    expect(d.placeholder.length).toBeLessThanOrEqual(40)
    const decoded = thumbHashToRGBA(hash)
    expect(decoded.w / decoded.h).toBeCloseTo(1024 / 768, 0)
    // It shows the image: its average colour is the image's.
    const average = thumbHashToAverageRGBA(hash)
    const { channels } = await sharp(readCorpusFile('valid-jpeg-baseline-1024x768.jpg')).stats()
    for (const [i, mean] of [average.r, average.g, average.b].entries()) {
      expect(Math.abs(mean * 255 - (channels[i]?.mean ?? 0)), `channel ${i}`).toBeLessThanOrEqual(12)
    }
  })

  it('shrinks a small frame for the placeholder by box averages: each output pixel the mean of its box, opaque without alpha', () => {
    // 4x2 RGB: left half red-ish pairs, right half blue-ish pairs.
    const pixels = Buffer.from([
      ...[200, 0, 0],
      ...[100, 0, 0],
      ...[0, 0, 40],
      ...[0, 0, 60],
      ...[100, 0, 0],
      ...[200, 0, 0],
      ...[0, 0, 80],
      ...[0, 0, 100],
    ])
    const out = boxShrinkToRgba({ pixels, width: 4, frameHeight: 2, frames: 1, channels: 3 }, 2)
    expect(out).toMatchObject({ width: 2, height: 1 })
    expect([...out.rgba]).toEqual([150, 0, 0, 255, 0, 0, 70, 255])
    // Never enlarged; alpha averaged when there is one.
    const rgba = Buffer.from([10, 20, 30, 0, 30, 40, 50, 255])
    const same = boxShrinkToRgba({ pixels: rgba, width: 2, frameHeight: 1, frames: 1, channels: 4 }, 32)
    expect(same).toMatchObject({ width: 2, height: 1 })
    expect([...same.rgba]).toEqual([...rgba])
  })

  it('gives a frame shrunk in JavaScript a placeholder that shows the same picture as a libvips resize', async () => {
    const bytes = readCorpusFile('valid-png-rgba-256x256.png')
    const d = await deriveVariants(bytes, DEFAULT_VARIANT_CONFIG, limits)
    const { data, info } = await sharp(bytes)
      .resize(PLACEHOLDER_EDGE, PLACEHOLDER_EDGE, { fit: 'inside' })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
    const ours = thumbHashToRGBA(Buffer.from(d.placeholder, 'base64'))
    const theirs = thumbHashToRGBA(rgbaToThumbHash(info.width, info.height, data))
    expect([ours.w, ours.h]).toEqual([theirs.w, theirs.h])
    let difference = 0
    for (let i = 0; i < ours.rgba.length; i++) difference += Math.abs((ours.rgba[i] ?? 0) - (theirs.rgba[i] ?? 0))
    expect(difference / ours.rgba.length).toBeLessThan(4)
  })

  it.each([
    ['a JPEG with EXIF orientation 6 and GPS', () => phoneJpeg()],
    ['an animated GIF', async () => readCorpusFile('valid-gif-animated-5frames-100x100.gif')],
    ['a 1024x768 PNG', async () => readCorpusFile('valid-png-rgb-1024x768.png')],
  ])('derives %s the same from the header validation read as from its own', async (_kind, load) => {
    const bytes = await load()
    const header = await sharp(bytes, { limitInputPixels: false }).metadata()
    const own = await deriveVariants(bytes, ALL_FORMATS, limits)
    const given = await deriveVariants(bytes, ALL_FORMATS, { ...limits, header })
    expect(given).toEqual(own)
  })

  it.each([
    ['a palette PNG with transparency', async () => readCorpusFile('valid-png-palette-trns-128x128.png')],
    ['a JPEG with EXIF orientation 6', async () => readCorpusFile('metadata-jpeg-exif-orientation6-640x480.jpg')],
    ['a CMYK JPEG', async () => readCorpusFile('valid-jpeg-cmyk-320x240.jpg')],
    ['a 1024x768 PNG', async () => readCorpusFile('valid-png-rgb-1024x768.png')],
    [
      'a 16-bit PNG with a Display P3 profile',
      () =>
        sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 60, b: 30 } } })
          .toColourspace('rgb16')
          .withIccProfile('p3')
          .png()
          .toBuffer(),
    ],
  ])("derives %s the same from the pixels the validation's strict decode kept as from its own decode", async (_kind, load) => {
    const bytes = await load()
    const header = await sharp(bytes, { limitInputPixels: false }).metadata()
    const strict = await decodeFully(bytes, {
      width: header.width,
      frameHeight: header.pageHeight ?? header.height,
      frames: header.pages ?? 1,
      limitInputPixels: limits.limitInputPixels,
      header,
    })
    if (!strict.ok || strict.value === null) throw new Error('expected the strict decode to keep the pixels')
    const own = await deriveVariants(bytes, ALL_FORMATS, limits)
    const given = await deriveVariants(bytes, ALL_FORMATS, { ...limits, header, decoded: strict.value })
    expect(given).toEqual(own)
  })

  it('gives each variant its exact Content-Type', async () => {
    const d = await deriveVariants(readCorpusFile('valid-png-rgba-256x256.png'), ALL_FORMATS, limits)
    for (const v of d.variants) {
      expect(v.contentType).toBe({ webp: 'image/webp', avif: 'image/avif', jpeg: 'image/jpeg' }[v.format])
      expect((await sharp(v.bytes).metadata()).format).toBe(v.format === 'avif' ? 'heif' : v.format)
    }
  })
})

describe('deriveVariants on the upload corpus', () => {
  const ready = [
    ...new Set(
      readCorpusManifest()
        .filter((c) => c.expected === 'ready')
        .map((c) => c.file),
    ),
  ]

  it('has ready cases', () => expect(ready.length).toBeGreaterThan(10))

  it.each(ready)('gives %s every variant', async (file) => {
    const d = await deriveVariants(readCorpusFile(file), DEFAULT_VARIANT_CONFIG, limits)
    expect(d.variants.map((v) => `${v.name}.${v.format}`).sort()).toEqual(['large.webp', 'medium.webp', 'thumbnail.webp'])
    for (const v of d.variants) {
      expect(v.sizeBytes).toBeGreaterThan(0)
      expect(Math.max(v.width, v.height)).toBeLessThanOrEqual(DEFAULT_VARIANT_CONFIG.sizes.find((s) => s.name === v.name)?.longestEdge ?? 0)
      expect((await sizeOf(v)).width).toBe(v.width)
    }
    expect(d.placeholder.length).toBeGreaterThan(0)
  })
})
