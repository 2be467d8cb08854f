import { PHONE_JPEG_SERIAL, phoneJpeg, readCorpusFile } from '@image-service/devstack/corpus'
import { readMetadataBlocks } from '@image-service/foundation'
import sharp, { type Metadata } from 'sharp'
import { describe, expect, test } from 'vitest'
import { type ImageStatusBody, type IssuedUpload, putUpload, type SignedDownload } from './support/api-client.ts'
import { useSystem } from './support/use-system.ts'

// Requirement (issue "Variants", bad input): every validated upload gets its sizes in every
// configured format, auto-rotated, never enlarged, 8-bit sRGB, without the metadata the
// original carried; read back from storage and through the CDN, over the real system.
const FORMATS = ['webp', 'avif', 'jpeg'] as const
const SIZES = { thumbnail: 300, medium: 800, large: 1200 } as const
const IMMUTABLE = 'public, max-age=31536000, immutable'

const running = useSystem({ env: { VARIANT_FORMATS: FORMATS.join(',') } })

const CONTENT_TYPES = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp', 'image/avif': 'avif' } as const
type ContentType = keyof typeof CONTENT_TYPES

/** Upload through the api and storage, then wait for the processor's verdict. */
async function process(contentType: ContentType, bytes: Uint8Array, name = 'upload'): Promise<ImageStatusBody> {
  const { api } = running()
  const issued = await api.issueUpload(contentType, `${name}.${CONTENT_TYPES[contentType]}`)
  expect(issued.status, JSON.stringify(issued.body)).toBe(201)
  const upload = issued.body as IssuedUpload
  await putUpload(upload, bytes)
  return api.waitForFinal(upload.image_id)
}

type StoredVariant = ImageStatusBody['variants'][number] & { bytes: Uint8Array; meta: Metadata }

/** Every variant of a ready image, read back from the bucket, checked against its record entry. */
async function storedVariants(image: ImageStatusBody): Promise<StoredVariant[]> {
  expect(image.status, JSON.stringify(image)).toBe('ready')
  const keys = image.variants.map((v) => `variants/${image.image_id}/${v.name}.${v.format}`).sort()
  // Exactly the record's variants are stored: one object per size and format, nothing else.
  expect(await running().listKeys(`variants/${image.image_id}/`)).toEqual(keys)
  return Promise.all(
    image.variants.map(async (v) => {
      const stored = await running().readObject(`variants/${image.image_id}/${v.name}.${v.format}`)
      expect(stored.contentType).toBe(`image/${v.format}`)
      expect(stored.cacheControl).toBe(IMMUTABLE)
      expect(stored.bytes.byteLength).toBe(v.size_bytes)
      const meta = await sharp(stored.bytes, { pages: -1 }).metadata()
      expect({ format: meta.format === 'heif' ? 'avif' : meta.format, width: meta.width, height: meta.pageHeight ?? meta.height }).toEqual({
        format: v.format,
        width: v.width,
        height: v.height,
      })
      return { ...v, bytes: stored.bytes, meta }
    }),
  )
}

const everyVariant = FORMATS.flatMap((format) => Object.keys(SIZES).map((name) => `${name}.${format}`)).sort()
const namesOf = (image: ImageStatusBody) => image.variants.map((v) => `${v.name}.${v.format}`).sort()

describe('variants on the real system', () => {
  test.concurrent.for([
    ['a phone JPEG with EXIF and GPS (built)', 'image/jpeg', null],
    ['the corpus PNG with EXIF and GPS', 'image/png', 'metadata-png-exif-gps-320x240.png'],
    ['the corpus WebP with EXIF and GPS', 'image/webp', 'metadata-webp-exif-gps-320x240.webp'],
    ['the corpus AVIF with EXIF and GPS', 'image/avif', 'metadata-avif-exif-gps-320x240.avif'],
  ] as const)('%s: no variant carries EXIF or GPS, and metadata_removed says gps', async ([, type, file], { expect }) => {
    const bytes = file === null ? await phoneJpeg({ width: 1600, height: 1200 }) : readCorpusFile(file)
    const before = await readMetadataBlocks(bytes)
    expect(Object.keys(before.gps ?? {}), 'the original carries GPS').toContain('GPSLatitude')
    const image = await process(type, bytes, 'gps')
    expect(image.metadata_removed).toEqual(expect.arrayContaining(['exif', 'gps']))
    expect(namesOf(image)).toEqual(everyVariant)
    for (const v of await storedVariants(image)) {
      const blocks = await readMetadataBlocks(v.bytes, v.meta)
      expect({ gps: blocks.gps, exif: blocks.exif, ifd0: blocks.ifd0 }, `${v.name}.${v.format}`).toEqual({
        gps: undefined,
        exif: undefined,
        ifd0: undefined,
      })
      expect({ exif: v.meta.exif, xmp: v.meta.xmp, iptc: v.meta.iptc }, `${v.name}.${v.format}`).toEqual({
        exif: undefined,
        xmp: undefined,
        iptc: undefined,
      })
      expect(Buffer.from(v.bytes).includes(PHONE_JPEG_SERIAL), 'the serial number is nowhere in the bytes').toBe(false)
    }
  })

  test.concurrent('a JPEG with EXIF orientation 6: the record and every variant are portrait, width and height swapped', async ({
    expect,
  }) => {
    const image = await process('image/jpeg', readCorpusFile('metadata-jpeg-exif-orientation6-640x480.jpg'), 'rotated')
    expect({ width: image.width, height: image.height }).toEqual({ width: 480, height: 640 })
    for (const v of await storedVariants(image)) {
      const edge = SIZES[v.name as keyof typeof SIZES]
      expect({ width: v.width, height: v.height }, `${v.name}.${v.format}`).toEqual(
        edge >= 640 ? { width: 480, height: 640 } : { width: Math.round((480 * edge) / 640), height: edge },
      )
      // Rotated in the pixels, not by a tag a viewer may ignore.
      expect(v.meta.orientation ?? 1).toBe(1)
    }
  })

  test.concurrent.for([
    ['a 1x1 GIF', 'image/gif', 'valid-gif-minimal-1x1.gif', 1, 1],
    ['a 1x1 JPEG', 'image/jpeg', 'valid-jpeg-minimal-1x1.jpg', 1, 1],
    ['a 300x10 strip (built)', 'image/png', null, 300, 10],
  ] as const)('%s: every variant exists, none is enlarged, none is empty', async ([, type, file, width, height], { expect }) => {
    const bytes =
      file === null
        ? new Uint8Array(
            await sharp({ create: { width, height, channels: 3, background: '#c04020' } })
              .png()
              .toBuffer(),
          )
        : readCorpusFile(file)
    const image = await process(type, bytes, 'small')
    expect({ width: image.width, height: image.height }).toEqual({ width, height })
    expect(namesOf(image)).toEqual(everyVariant)
    for (const v of await storedVariants(image)) {
      expect({ width: v.width, height: v.height }, `${v.name}.${v.format}`).toEqual({ width, height })
      expect(v.size_bytes).toBeGreaterThan(0)
      const { info } = await sharp(v.bytes).raw().toBuffer({ resolveWithObject: true })
      expect({ width: info.width, height: info.height }).toEqual({ width, height })
    }
  })

  test.concurrent('an animated GIF: its WebP variants are animated with the same frame count, AVIF and JPEG are its first frame', async ({
    expect,
  }) => {
    const image = await process('image/gif', readCorpusFile('valid-gif-animated-5frames-100x100.gif'), 'animated')
    const variants = await storedVariants(image)
    expect(variants).toHaveLength(everyVariant.length)
    for (const v of variants) expect(v.meta.pages ?? 1, `${v.name}.${v.format}`).toBe(v.format === 'webp' ? 5 : 1)
  })

  test.concurrent.for([
    ['a CMYK JPEG', 'image/jpeg', 'cmyk'],
    ['a 16-bit PNG (built)', 'image/png', '16-bit'],
  ] as const)('%s: every variant is 8-bit sRGB and shows the colours of the original', async ([, type, kind], { expect }) => {
    const bytes =
      kind === 'cmyk'
        ? readCorpusFile('valid-jpeg-cmyk-320x240.jpg')
        : new Uint8Array(
            await sharp({ create: { width: 640, height: 480, channels: 3, background: '#3366aa' } })
              .toColourspace('rgb16')
              .png()
              .toBuffer(),
          )
    if (kind === '16-bit') expect((await sharp(bytes).metadata()).depth).toBe('ushort')
    const image = await process(type, bytes, kind)
    // The original's colours as sRGB, as libvips converts them, averaged.
    // (stats() would measure the input, CMYK or 16-bit, so the converted pixels are measured anew).
    const { data, info } = await sharp(bytes).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })
    const reference = (await sharp(data, { raw: info }).stats()).channels.slice(0, 3)
    for (const v of await storedVariants(image)) {
      expect({ space: v.meta.space, depth: v.meta.depth }, `${v.name}.${v.format}`).toEqual({ space: 'srgb', depth: 'uchar' })
      const means = (await sharp(v.bytes).stats()).channels.slice(0, 3).map((c) => c.mean)
      for (const [channel, mean] of means.entries()) {
        expect(Math.abs(mean - (reference[channel]?.mean ?? 0)), `${v.name}.${v.format} channel ${channel}`).toBeLessThanOrEqual(6)
      }
    }
  })

  test.concurrent('a variant downloads through the CDN with its Content-Type and the immutable Cache-Control', async ({ expect }) => {
    const image = await process('image/png', readCorpusFile('valid-png-rgb-1024x768.png'), 'cdn')
    const signed = await running().api.request<SignedDownload>(
      'GET',
      `/api/image/v1/download/get-signed-url/${image.image_id}?variant=medium&format=avif`,
    )
    expect(signed.status, JSON.stringify(signed.body)).toBe(200)
    expect(signed.body).toMatchObject({ variant: 'medium', format: 'avif' })
    const response = await fetch(signed.body.download_url)
    expect(response.status).toBe(200)
    expect({ type: response.headers.get('content-type'), cache: response.headers.get('cache-control') }).toEqual({
      type: 'image/avif',
      cache: IMMUTABLE,
    })
    const served = await sharp(new Uint8Array(await response.arrayBuffer())).metadata()
    expect({ width: served.width, height: served.height }).toEqual({ width: 800, height: 600 })
  })
})
