import { CreateMultipartUploadCommand, PutObjectCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmulatorS3Client } from './emulator-s3-client.ts'
import { browserUploadCorsRule, corsConfigurationXml } from './s3-cors.ts'
import { type S3Emulator, startS3Emulator } from './s3-emulator.ts'

// What a browser sends and reads, with Node's fetch standing in for it: the preflight of a
// presigned PUT, the PUT itself from the page's origin, and the headers the page may read.
const BUCKET = 'spec-s3-cors'
const PAGE = 'http://127.0.0.1:5173'

const preflight = (url: string, origin: string, headers = 'content-type,if-none-match') =>
  fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': headers },
  })

describe('S3 emulator CORS for browser uploads', () => {
  let s3: S3Emulator
  let client: S3Client

  beforeAll(async () => {
    s3 = await startS3Emulator({ port: 0, buckets: [BUCKET], corsOrigins: [PAGE, 'http://localhost:*'] })
    client = createEmulatorS3Client(s3, { maxAttempts: 1 })
  })
  afterAll(async () => {
    client.destroy()
    await s3.stop()
  })

  const presignPut = (key: string, expiresIn = 60) =>
    getSignedUrl(client, new PutObjectCommand({ Bucket: BUCKET, Key: key, ContentType: 'image/png', IfNoneMatch: '*' }), {
      expiresIn,
      signableHeaders: new Set(['content-type', 'if-none-match']),
    })

  it('answers the preflight of a presigned PUT from an allowed origin, with the signed headers allowed', async () => {
    const url = await presignPut('uploads/preflight')
    for (const origin of [PAGE, 'http://localhost:5174']) {
      const response = await preflight(url, origin)
      expect(response.status).toBe(200)
      expect(response.headers.get('access-control-allow-methods')).toBe('PUT')
      expect(response.headers.get('access-control-allow-headers')).toBe('content-type, if-none-match')
    }
  })

  it('refuses the preflight from another origin, or for a header the rule does not allow', async () => {
    const url = await presignPut('uploads/refused')
    const other = await preflight(url, 'https://evil.example')
    expect(other.status).toBe(403)
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
    expect(await other.text()).toContain('<Code>CORSResponse</Code>')
    expect((await preflight(url, PAGE, 'content-type,x-amz-acl')).status).toBe(403)
  })

  it('lets the page read the answer of its PUT, ETag included', async () => {
    const url = await presignPut('uploads/put')
    const response = await fetch(url, {
      method: 'PUT',
      headers: { origin: PAGE, 'content-type': 'image/png', 'if-none-match': '*' },
      body: 'png bytes',
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBe(PAGE)
    expect(response.headers.get('access-control-expose-headers')).toBe('ETag')
    expect(response.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/)
  })

  it('exposes the ETag of a multipart part, which the client needs to complete the upload', async () => {
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'uploads/parts', ContentType: 'image/png' }))
    const url = await getSignedUrl(
      client,
      new UploadPartCommand({ Bucket: BUCKET, Key: 'uploads/parts', UploadId: created.UploadId, PartNumber: 1 }),
      {
        expiresIn: 60,
      },
    )
    const response = await fetch(url, { method: 'PUT', headers: { origin: PAGE }, body: 'part one' })
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBe(PAGE)
    expect(response.headers.get('access-control-expose-headers')).toBe('ETag')
    expect(response.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/)
  })

  it('puts the CORS headers on a refusal too, so the page can tell an expired URL from a network failure', async () => {
    const url = new URL(await presignPut('uploads/expired'))
    url.searchParams.set('X-Amz-Date', '20200101T000000Z')
    const response = await fetch(url, {
      method: 'PUT',
      headers: { origin: PAGE, 'content-type': 'image/png', 'if-none-match': '*' },
      body: 'x',
    })
    expect(response.status).toBe(403)
    expect(response.headers.get('access-control-allow-origin')).toBe(PAGE)
    expect(await response.text()).toContain('<Code>AccessDenied</Code>')
  })

  it('without allowed origins, refuses every preflight as a bucket without CORS does', async () => {
    const bare = await startS3Emulator({ port: 0, buckets: [BUCKET] })
    const bareClient = createEmulatorS3Client(bare, { maxAttempts: 1 })
    try {
      const url = await getSignedUrl(bareClient, new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/bare' }), { expiresIn: 60 })
      const response = await preflight(url, PAGE)
      expect(response.status).toBe(403)
      expect(await response.text()).toContain('CORS is not enabled for this bucket')
    } finally {
      bareClient.destroy()
      await bare.stop()
    }
  })

  it('writes the rule as the CORSConfiguration document PutBucketCors takes', () => {
    expect(corsConfigurationXml(browserUploadCorsRule(['https://app.example']))).toBe(
      '<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin>' +
        '<AllowedMethod>PUT</AllowedMethod>' +
        '<AllowedHeader>content-type</AllowedHeader><AllowedHeader>if-none-match</AllowedHeader>' +
        '<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3600</MaxAgeSeconds></CORSRule></CORSConfiguration>',
    )
  })
})
