import { type CdnEmulator, generateDevKeyPair, startCdnEmulator } from '@image-service/devstack'
import {
  createCloudFrontImageCdn,
  createPostgresImageRepository,
  createS3Client,
  createS3PresignedImageCdn,
  type ImageId,
  type ImageRepository,
} from '@image-service/foundation'
import { Value } from '@sinclair/typebox/value'
import '../testing/formats.ts'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'
import { SignedDownloadResponse, SignedDownloadsResponse } from './download.ts'

const BUCKET = 'spec-api-download'
// A real PNG signature plus bytes that would be mangled by any text re-encoding.
const BYTES = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x80])

/**
 * End to end on the emulators: a record saved through the upload route, its bytes PUT to the
 * S3 emulator with the presigned URL, marked ready in the real test database; then the API's
 * signed URL must fetch exactly those bytes, through the CDN emulator (cloudfront mode) or
 * from the S3 emulator directly (s3-presigned mode), and a tampered or expired URL must not.
 */
describe('download URLs on the emulators', () => {
  let api: TestApi
  let cdn: CdnEmulator
  let cloudFrontApp: ApiApp
  let images: ImageRepository
  const keys = generateDevKeyPair()

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), BUCKET)
    cdn = await startCdnEmulator({
      s3: { endpoint: api.s3.endpoint, region: api.s3.region, accessKeyId: api.s3.accessKeyId, secretAccessKey: api.s3.secretAccessKey },
      bucket: BUCKET,
      publicKeyPem: keys.publicKeyPem,
      keyPairId: keys.keyPairId,
    })
    cloudFrontApp = await api.variant({
      CDN_MODE: 'cloudfront',
      CDN_BASE_URL: cdn.baseUrl,
      CLOUDFRONT_KEY_PAIR_ID: keys.keyPairId,
      CLOUDFRONT_PRIVATE_KEY: keys.privateKeyPem,
    })
    images = createPostgresImageRepository(api.database.db)
  })
  afterAll(async () => {
    await cdn?.stop()
    await api?.close()
  })

  async function uploaded(ready: boolean): Promise<ImageId> {
    const created = await api.inject({
      method: 'POST',
      url: '/api/image/v1/upload/create-presigned-url',
      payload: { content_type: 'image/png', file_name: 'cat.png' },
    })
    expect(created.statusCode).toBe(201)
    const body = created.json<{ image_id: ImageId; upload_url: string; upload_headers: Record<string, string> }>()
    const put = await fetch(body.upload_url, { method: 'PUT', headers: body.upload_headers, body: BYTES })
    expect(put.status).toBe(200)
    if (ready) await images.transitionFromPending(body.image_id, { status: 'ready', sizeBytes: BYTES.length, etag: '"spec"' })
    return body.image_id
  }

  async function expectImage(url: string): Promise<void> {
    const response = await fetch(url)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('image/png')
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(BYTES)
  }

  async function signedUrl(app: ApiApp, imageId: ImageId): Promise<string> {
    const response = await api.inject({ method: 'GET', url: `/api/image/v1/download/get-signed-url/${imageId}` }, { app })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(Value.Check(SignedDownloadResponse, body)).toBe(true)
    expect(body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    return body.download_url as string
  }

  /** Flips one character of the signature, keeping it in the same alphabet. */
  function tamper(url: string, param: string): string {
    const parsed = new URL(url)
    const value = parsed.searchParams.get(param) ?? ''
    parsed.searchParams.set(param, (value[0] === 'A' ? 'B' : 'A') + value.slice(1))
    return parsed.toString()
  }

  describe('cloudfront mode, through the CDN emulator', () => {
    it('serves the exact bytes and content type of a ready image', async () => {
      const imageId = await uploaded(true)
      const url = await signedUrl(cloudFrontApp, imageId)
      expect(url.startsWith(`${cdn.baseUrl}/uploads/${imageId}?`)).toBe(true)
      await expectImage(url)
    })

    it('refuses a tampered signature, another object under the same signature, and an expired URL', async () => {
      const [imageId, other] = [await uploaded(true), await uploaded(true)]
      const url = await signedUrl(cloudFrontApp, imageId)
      expect((await fetch(tamper(url, 'Signature'))).status).toBe(403)
      expect((await fetch(url.replace(imageId, other))).status).toBe(403)

      const anHourAgo = Date.now() - 3_600_000
      const past = createCloudFrontImageCdn({
        baseUrl: cdn.baseUrl,
        keyPairId: keys.keyPairId,
        privateKey: keys.privateKeyPem,
        ttlSeconds: 60,
        windowSeconds: 0,
        cacheSize: 0,
        now: () => anHourAgo,
      })
      expect((await fetch((await past.signDownloadUrl(`uploads/${imageId}`)).url)).status).toBe(403)
    })

    it('answers a batch with downloadable items and the not-ready ids', async () => {
      const [ready, pending] = [await uploaded(true), await uploaded(false)]
      const response = await api.inject(
        { method: 'POST', url: '/api/image/v1/download/get-signed-urls', payload: { image_ids: [pending, ready, ready] } },
        { app: cloudFrontApp },
      )
      expect(response.statusCode).toBe(200)
      const body = response.json()
      expect(Value.Check(SignedDownloadsResponse, body)).toBe(true)
      expect(body.not_found).toEqual([pending])
      expect(body.items.map((i: { image_id: string }) => i.image_id)).toEqual([ready])
      await expectImage(body.items[0].download_url)
      // Same aligned window: the single-id route hands out the byte-identical URL.
      expect(await signedUrl(cloudFrontApp, ready)).toBe(body.items[0].download_url)
    })

    it('does not sign a pending image', async () => {
      const imageId = await uploaded(false)
      const response = await api.inject({ method: 'GET', url: `/api/image/v1/download/get-signed-url/${imageId}` }, { app: cloudFrontApp })
      expect(response.statusCode).toBe(404)
      expect(response.json()).toMatchObject({ code: 'IMAGE_NOT_FOUND' })
    })
  })

  describe('s3-presigned mode, against the S3 emulator', () => {
    it('serves the exact bytes and content type; a tampered or expired URL gets 403', async () => {
      const imageId = await uploaded(true)
      const url = await signedUrl(api.app, imageId)
      expect(new URL(url).pathname).toBe(`/${BUCKET}/uploads/${imageId}`)
      await expectImage(url)
      expect((await fetch(tamper(url, 'X-Amz-Signature'))).status).toBe(403)

      const client = createS3Client({
        ...api.config.storage,
        credentials: { accessKeyId: api.s3.accessKeyId, secretAccessKey: api.s3.secretAccessKey },
      })
      try {
        const anHourAgo = Date.now() - 3_600_000
        const past = createS3PresignedImageCdn({
          client,
          bucket: BUCKET,
          ttlSeconds: 60,
          windowSeconds: 0,
          cacheSize: 0,
          now: () => anHourAgo,
        })
        expect((await fetch((await past.signDownloadUrl(`uploads/${imageId}`)).url)).status).toBe(403)
      } finally {
        client.destroy()
      }
    })
  })

  it('carries the request id and security headers on the real app', async () => {
    const response = await api.inject({
      method: 'GET',
      url: `/api/image/v1/download/get-signed-url/${await uploaded(true)}`,
      headers: { 'x-request-id': 'e2e-download-1' },
    })
    expect(response.headers).toMatchObject({
      'x-request-id': 'e2e-download-1',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    })
  })
})
