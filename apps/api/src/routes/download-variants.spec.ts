import type { AddressInfo } from 'node:net'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { type CdnEmulator, createEmulatorS3Client, generateDevKeyPair, startCdnEmulator } from '@image-service/devstack'
import { readCorpusFile, TEST_IMAGE_LIMITS } from '@image-service/devstack/corpus'
import {
  createPostgresImageRepository,
  createValidateImage,
  type ImageId,
  type ImageRepository,
  type ImageVariant,
  type ImageVariantFormat,
  systemContext,
  variantKeyFor,
} from '@image-service/foundation'
import { Value } from '@sinclair/typebox/value'
import '../testing/formats.ts'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'
import { SignedDownloadResponse, SignedDownloadsResponse } from './download.ts'

const BUCKET = 'spec-api-download-variants'
const ORIGINAL = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x80])
const CONTENT_TYPES: Record<ImageVariantFormat, string> = { webp: 'image/webp', avif: 'image/avif', jpeg: 'image/jpeg' }
const IMMUTABLE = 'public, max-age=31536000, immutable'
const CHROME_WITHOUT_AVIF = 'image/webp,image/apng,image/svg+xml,image/*;q=0.8,*/*;q=0.5'

/** Bytes that name the object they were stored as, so a download proves which one it read. */
const bytesOf = (key: string) => new TextEncoder().encode(`bytes of ${key}`)

/**
 * Variant downloads end to end over real HTTP: the API listening on a port, PostgreSQL, the S3
 * emulator and the CDN emulator. A record is issued through the upload route and its original
 * PUT with the presigned URL; it is marked ready with variants as the processor does, and the
 * variant objects are PUT into the bucket with their Content-Type and immutable Cache-Control.
 * The signed URL must then read exactly those bytes with those headers.
 */
describe('variant downloads on the emulators', () => {
  let api: TestApi
  let cdn: CdnEmulator
  let cloudFront: ApiApp
  let base: string
  let images: ImageRepository
  const keys = generateDevKeyPair()

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), BUCKET)
    cdn = await startCdnEmulator({ s3: api.s3, bucket: BUCKET, publicKeyPem: keys.publicKeyPem, keyPairId: keys.keyPairId })
    cloudFront = await api.variant({
      CDN_MODE: 'cloudfront',
      CDN_BASE_URL: cdn.baseUrl,
      CLOUDFRONT_KEY_PAIR_ID: keys.keyPairId,
      CLOUDFRONT_PRIVATE_KEY: keys.privateKeyPem,
      CORS_ORIGINS: 'https://app.test',
    })
    await cloudFront.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(cloudFront.server.address() as AddressInfo).port}`
    images = createPostgresImageRepository(api.database.db)
  })
  afterAll(async () => {
    cloudFront?.server.closeAllConnections()
    await api?.close()
    await cdn?.stop()
  })

  async function call(path: string, init: RequestInit & { owner?: string } = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    headers.set('authorization', `Bearer ${await api.token(init.owner)}`)
    if (init.body !== undefined) headers.set('content-type', 'application/json')
    return fetch(`${base}${path}`, { ...init, headers })
  }

  /** An image of `owner` with its original stored; ready with `variants` stored too unless `ready` is false. */
  async function image(options: { owner?: string; ready?: boolean; variants?: [string, ImageVariantFormat][] } = {}): Promise<ImageId> {
    const owner = options.owner
    const created = await call('/api/image/v1/upload/create-presigned-url', {
      method: 'POST',
      owner,
      body: JSON.stringify({ content_type: 'image/png', file_name: 'cat.png' }),
    })
    expect(created.status).toBe(201)
    const body = (await created.json()) as { image_id: ImageId; upload_url: string; upload_headers: Record<string, string> }
    expect((await fetch(body.upload_url, { method: 'PUT', headers: body.upload_headers, body: ORIGINAL })).status).toBe(200)
    if (options.ready === false) return body.image_id

    const id = body.image_id
    const variants: ImageVariant[] = []
    const client = createEmulatorS3Client(api.s3)
    try {
      for (const [name, format] of options.variants ?? []) {
        const key = variantKeyFor(id, name, format)
        const bytes = bytesOf(key)
        await client.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes, ContentType: CONTENT_TYPES[format], CacheControl: IMMUTABLE }),
        )
        variants.push({ name, format, width: 300, height: 200, sizeBytes: bytes.length })
      }
    } finally {
      client.destroy()
    }
    const derivatives = { width: 1200, height: 800, variants, placeholder: 'AAAA', metadataRemoved: [] }
    const ready = await images.transitionFromPending(
      id,
      { status: 'ready', sizeBytes: ORIGINAL.length, etag: '"spec"', derivatives },
      systemContext('processor', `spec-${id}`),
    )
    expect(ready?.status).toBe('ready')
    return id
  }

  /** A signed download, or an error's code. */
  type Answer = SignedDownloadResponse & { code?: string }

  async function signed(id: ImageId, query: string, init: RequestInit & { owner?: string } = {}) {
    const response = await call(`/api/image/v1/download/get-signed-url/${id}${query}`, init)
    const body = (await response.json()) as Answer
    return { response, body }
  }

  async function batch(payload: object, init: RequestInit = {}) {
    const response = await call('/api/image/v1/download/get-signed-urls', { ...init, method: 'POST', body: JSON.stringify(payload) })
    const body = (await response.json()) as SignedDownloadsResponse & { code?: string }
    return { response, body }
  }

  async function expectObject(url: string, key: string, contentType: string): Promise<void> {
    const response = await fetch(url)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe(contentType)
    expect(response.headers.get('cache-control')).toBe(IMMUTABLE)
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytesOf(key))
  }

  it('signs the variant Accept chooses, whose URL reads its bytes with its Content-Type and immutable Cache-Control', async () => {
    const id = await image({
      variants: [
        ['thumbnail', 'webp'],
        ['thumbnail', 'jpeg'],
        ['medium', 'webp'],
      ],
    })

    const webp = await signed(id, '?variant=thumbnail', { headers: { accept: CHROME_WITHOUT_AVIF } })
    expect(webp.response.status).toBe(200)
    expect(Value.Check(SignedDownloadResponse, webp.body)).toBe(true)
    expect(webp.body).toMatchObject({ image_id: id, variant: 'thumbnail', format: 'webp' })
    expect(webp.response.headers.get('vary')).toMatch(/\bAccept\b/)
    expect(webp.body.download_url.startsWith(`${cdn.baseUrl}/variants/${id}/thumbnail.webp?`)).toBe(true)
    await expectObject(webp.body.download_url, variantKeyFor(id, 'thumbnail', 'webp'), 'image/webp')

    const jpeg = await signed(id, '?variant=thumbnail&format=auto', { headers: { accept: 'image/jpeg, image/webp;q=0' } })
    expect(jpeg.body).toMatchObject({ variant: 'thumbnail', format: 'jpeg' })
    await expectObject(jpeg.body.download_url, variantKeyFor(id, 'thumbnail', 'jpeg'), 'image/jpeg')

    const asked = await signed(id, '?variant=thumbnail&format=jpeg', { headers: { accept: 'image/webp' } })
    expect(asked.body).toMatchObject({ format: 'jpeg', download_url: jpeg.body.download_url })
    expect(asked.response.headers.get('vary') ?? '').not.toMatch(/\bAccept\b/)

    const original = await signed(id, '')
    expect(original.body).toMatchObject({ variant: 'original', format: 'png' })
    expect(original.body.download_url.startsWith(`${cdn.baseUrl}/uploads/${id}?`)).toBe(true)
    const bytes = await fetch(original.body.download_url)
    expect(bytes.headers.get('content-type')).toBe('image/png')
    expect(new Uint8Array(await bytes.arrayBuffer())).toEqual(ORIGINAL)
  })

  it('adds Accept to the Vary that CORS sets for a listed origin', async () => {
    const id = await image({ variants: [['thumbnail', 'webp']] })
    const { response } = await signed(id, '?variant=thumbnail', { headers: { origin: 'https://app.test' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.test')
    const vary = (response.headers.get('vary') ?? '').split(',').map((v) => v.trim().toLowerCase())
    expect(vary).toEqual(expect.arrayContaining(['origin', 'accept']))
  })

  it('answers 404 VARIANT_NOT_FOUND to the owner for a variant or format the image lacks, never a URL', async () => {
    const id = await image({ variants: [['thumbnail', 'webp']] })
    for (const query of ['?variant=large', '?variant=thumbnail&format=avif', '?variant=thumbnail&format=png', '?format=webp']) {
      const { response, body } = await signed(id, query)
      expect({ query, status: response.status, code: body.code }).toEqual({ query, status: 404, code: 'VARIANT_NOT_FOUND' })
      expect(body.download_url).toBeUndefined()
    }
  })

  it("answers another owner's image, a pending one and a missing one alike: 404 IMAGE_NOT_FOUND", async () => {
    const theirs = await image({ owner: 'owner-b', variants: [['thumbnail', 'webp']] })
    const pending = await image({ ready: false })
    const missing = '01J00000000000000000000000' as ImageId
    for (const id of [theirs, pending, missing]) {
      for (const query of ['?variant=thumbnail', '?variant=large', '']) {
        const { response, body } = await signed(id, query)
        expect({ id, query, status: response.status, code: body.code }).toEqual({ id, query, status: 404, code: 'IMAGE_NOT_FOUND' })
      }
    }
    // The owner does get it.
    expect((await signed(theirs, '?variant=thumbnail', { owner: 'owner-b' })).response.status).toBe(200)
  })

  it('answers a batch with the images that have the variant and the rest under not_found; the URLs download', async () => {
    const [webpAndJpeg, webpOnly, withoutVariants, pending, theirs] = [
      await image({
        variants: [
          ['thumbnail', 'webp'],
          ['thumbnail', 'jpeg'],
        ],
      }),
      await image({ variants: [['thumbnail', 'webp']] }),
      await image(),
      await image({ ready: false }),
      await image({ owner: 'owner-b', variants: [['thumbnail', 'webp']] }),
    ]
    const { response, body } = await batch(
      { image_ids: [theirs, webpAndJpeg, pending, webpOnly, withoutVariants, webpAndJpeg], variant: 'thumbnail' },
      { headers: { accept: 'image/jpeg,image/webp;q=0.9' } },
    )
    expect(response.status).toBe(200)
    expect(response.headers.get('vary')).toMatch(/\bAccept\b/)
    expect(Value.Check(SignedDownloadsResponse, body)).toBe(true)
    const [first, second] = body.items
    expect(body.items.map((i) => [i.image_id, i.format])).toEqual([
      [webpAndJpeg, 'jpeg'],
      [webpOnly, 'webp'],
    ])
    expect(body.not_found).toEqual([theirs, pending, withoutVariants])
    await expectObject(first?.download_url ?? '', variantKeyFor(webpAndJpeg, 'thumbnail', 'jpeg'), 'image/jpeg')
    await expectObject(second?.download_url ?? '', variantKeyFor(webpOnly, 'thumbnail', 'webp'), 'image/webp')
    // Same object key in the same aligned window: the single route hands out the byte-identical URL.
    expect((await signed(webpOnly, '?variant=thumbnail&format=webp')).body.download_url).toBe(second?.download_url)

    const explicit = await batch({ image_ids: [webpAndJpeg, webpOnly], variant: 'thumbnail', format: 'jpeg' })
    expect(explicit.body.items.map((i) => i.image_id)).toEqual([webpAndJpeg])
    expect(explicit.body.not_found).toEqual([webpOnly])
    expect(explicit.response.headers.get('vary') ?? '').not.toMatch(/\bAccept\b/)
  })

  it('answers 400 INVALID_VARIANT or INVALID_FORMAT for a malformed variant or an unknown format', async () => {
    const id = await image({ variants: [['thumbnail', 'webp']] })
    const cases: [string, string][] = [
      ['?variant=Thumbnail', 'INVALID_VARIANT'],
      ['?variant=..%2F..%2Fuploads', 'INVALID_VARIANT'],
      [`?variant=${'a'.repeat(33)}`, 'INVALID_VARIANT'],
      ['?variant=thumbnail&format=gif89', 'INVALID_FORMAT'],
    ]
    for (const [query, code] of cases) {
      const { response, body } = await signed(id, query)
      expect({ query, status: response.status, code: body.code }).toEqual({ query, status: 400, code })
    }
    const refused = await batch({ image_ids: [id], variant: 'thumbnail', format: 'bmp' })
    expect(refused.response.status).toBe(400)
    expect(refused.body).toMatchObject({ code: 'INVALID_FORMAT' })
  })

  it('records the variant in the download.signed audit row', async () => {
    const id = await image({ variants: [['thumbnail', 'webp']] })
    const response = await signed(id, '?variant=thumbnail', { headers: { 'x-request-id': `sign-variant-${id}` } })
    expect(response.response.status).toBe(200)
    // download.signed rows are written in batches, a moment after the response.
    await expect
      .poll(async () => {
        const trail = await call(`/api/image/v1/audit?action=download.signed&image_id=${id}`)
        const items = ((await trail.json()) as { items: { request_id: string; detail: unknown }[] }).items
        return items.find((i) => i.request_id === `sign-variant-${id}`)?.detail
      })
      .toEqual({ image_ids: [id], variant: 'thumbnail' })
  })

  it("serves the variants the processor's own validation stored: a real WebP thumbnail, no larger than 300 px", async () => {
    const png = readCorpusFile('valid-png-rgb-1024x768.png')
    const created = await call('/api/image/v1/upload/create-presigned-url', {
      method: 'POST',
      body: JSON.stringify({ content_type: 'image/png', file_name: 'real.png', size_bytes: png.length }),
    })
    const upload = (await created.json()) as { image_id: ImageId; upload_url: string; upload_headers: Record<string, string> }
    expect((await fetch(upload.upload_url, { method: 'PUT', headers: upload.upload_headers, body: png })).status).toBe(200)
    // The processor's command on the api's database and bucket, as a queue message would run it.
    const validate = createValidateImage({ images, storage: api.storage, variants: api.variants, limits: TEST_IMAGE_LIMITS })
    expect(await validate(systemContext('processor', `msg-${upload.image_id}`), upload.image_id)).toMatchObject({ outcome: 'ready' })

    const record = await images.findById(upload.image_id)
    const thumbnail = record?.variants.find((v) => v.name === 'thumbnail' && v.format === 'webp')
    expect(thumbnail).toMatchObject({ width: 300, height: 225 })

    const { response, body } = await signed(upload.image_id, '?variant=thumbnail', { headers: { accept: CHROME_WITHOUT_AVIF } })
    expect(response.status).toBe(200)
    expect(body).toMatchObject({ variant: 'thumbnail', format: 'webp' })
    const download = await fetch(body.download_url)
    expect(download.status).toBe(200)
    expect(download.headers.get('content-type')).toBe('image/webp')
    expect(download.headers.get('cache-control')).toBe(IMMUTABLE)
    const bytes = Buffer.from(await download.arrayBuffer())
    expect(bytes.length).toBe(thumbnail?.sizeBytes)
    expect([bytes.subarray(0, 4).toString('latin1'), bytes.subarray(8, 12).toString('latin1')]).toEqual(['RIFF', 'WEBP'])
  })

  it('s3-presigned mode: the variant URL reads the object straight from the bucket with its headers', async () => {
    const id = await image({ variants: [['thumbnail', 'webp']] })
    const response = await api.inject({ method: 'GET', url: `/api/image/v1/download/get-signed-url/${id}?variant=thumbnail` })
    expect(response.statusCode).toBe(200)
    const body = response.json<SignedDownloadResponse>()
    expect(new URL(body.download_url).pathname).toBe(`/${BUCKET}/variants/${id}/thumbnail.webp`)
    await expectObject(body.download_url, variantKeyFor(id, 'thumbnail', 'webp'), 'image/webp')
  })
})
