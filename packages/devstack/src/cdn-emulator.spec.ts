import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/cloudfront-signer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCdnEmulator } from './cdn-emulator.ts'
import type { CdnEmulator } from './cdn-emulator.ts'
import { generateDevKeyPair, loadOrCreateDevKeyPair } from './dev-key-pair.ts'
import { createEmulatorS3Client } from './emulator-s3-client.ts'
import { startS3Emulator } from './s3-emulator.ts'
import type { S3Emulator } from './s3-emulator.ts'

const BUCKET = 'spec-cdn'
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3])

describe('CDN emulator', () => {
  const keys = generateDevKeyPair()
  let s3: S3Emulator
  let cdn: CdnEmulator

  beforeAll(async () => {
    s3 = await startS3Emulator({ buckets: [BUCKET] })
    cdn = await startCdnEmulator({ s3, bucket: BUCKET, publicKeyPem: keys.publicKeyPem, keyPairId: keys.keyPairId })
    const client = createEmulatorS3Client(s3)
    for (const Key of ['uploads/pic', 'uploads/other', 'uploads/a b/é.png']) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: PNG, ContentType: 'image/png' }))
    }
    client.destroy()
  })
  afterAll(async () => {
    await cdn.stop()
    await s3.stop()
  })

  const sign = (path: string, overrides: { keyPairId?: string; privateKey?: string; expiresInMs?: number } = {}) =>
    getSignedUrl({
      url: `${cdn.baseUrl}/${path}`,
      keyPairId: overrides.keyPairId ?? keys.keyPairId,
      privateKey: overrides.privateKey ?? keys.privateKeyPem,
      dateLessThan: new Date(Date.now() + (overrides.expiresInMs ?? 60_000)),
    })

  it('serves a correctly signed URL with the stored bytes and Content-Type', async () => {
    const res = await fetch(sign('uploads/pic'))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/png')
    expect(res.headers.get('content-length')).toBe(String(PNG.length))
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(Buffer.from(await res.arrayBuffer())).toEqual(PNG)
  })

  it('passes the stored object headers through, as CloudFront does without a response-headers policy', async () => {
    const client = createEmulatorS3Client(s3)
    const expires = new Date('2031-02-03T04:05:06Z')
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: 'uploads/disposition',
          Body: PNG,
          ContentType: 'image/png',
          ContentDisposition: 'attachment; filename=x.html',
          CacheControl: 'public, max-age=31536000, immutable',
          ContentLanguage: 'en',
          ContentEncoding: 'identity',
          Expires: expires,
        }),
      )
    } finally {
      client.destroy()
    }
    for (const method of ['GET', 'HEAD']) {
      const res = await fetch(sign('uploads/disposition'), { method })
      expect(res.status).toBe(200)
      expect(Object.fromEntries(res.headers)).toMatchObject({
        'content-type': 'image/png',
        'content-length': String(PNG.length),
        'content-disposition': 'attachment; filename=x.html',
        'cache-control': 'public, max-age=31536000, immutable',
        'content-language': 'en',
        'content-encoding': 'identity',
        expires: expires.toUTCString(),
        etag: expect.stringMatching(/^"[0-9a-f]{32}"$/),
        'last-modified': expect.stringMatching(/ GMT$/),
      })
    }
  })

  it("passes a variant's own long immutable Cache-Control and its Content-Type through", async () => {
    const key = 'variants/01J0000000000000000000000A/thumbnail.webp'
    const webp = Buffer.from(
      'RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00',
      'latin1',
    )
    const client = createEmulatorS3Client(s3)
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: key,
          Body: webp,
          ContentType: 'image/webp',
          CacheControl: 'public, max-age=31536000, immutable',
        }),
      )
    } finally {
      client.destroy()
    }
    const res = await fetch(sign(key))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('image/webp')
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(Buffer.from(await res.arrayBuffer())).toEqual(webp)
  })

  it('adds nothing the object was not stored with (no Cache-Control, no Content-Disposition)', async () => {
    const res = await fetch(sign('uploads/pic'))
    expect(res.headers.get('cache-control')).toBeNull()
    expect(res.headers.get('content-disposition')).toBeNull()
    await res.arrayBuffer()
  })

  it('serves keys with spaces and unicode when signed as the signer encodes them', async () => {
    const res = await fetch(sign('uploads/a b/é.png'))
    expect(res.status).toBe(200)
    expect(Buffer.from(await res.arrayBuffer())).toEqual(PNG)
  })

  it('rejects unsigned, tampered, expired and wrong-key URLs with 403', async () => {
    const good = new URL(sign('uploads/pic'))
    const otherPath = new URL(good)
    otherPath.pathname = '/uploads/other'
    const laterExpiry = new URL(good)
    laterExpiry.searchParams.set('Expires', String(Number(good.searchParams.get('Expires')) + 3600))
    const flippedSignature = new URL(good)
    const signature = good.searchParams.get('Signature') ?? ''
    flippedSignature.searchParams.set('Signature', `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`)
    const attacker = generateDevKeyPair()

    const rejected = [
      `${cdn.baseUrl}/uploads/pic`,
      otherPath.toString(),
      laterExpiry.toString(),
      flippedSignature.toString(),
      sign('uploads/pic', { expiresInMs: -1000 }),
      sign('uploads/pic', { keyPairId: attacker.keyPairId }),
      sign('uploads/pic', { privateKey: attacker.privateKeyPem }),
    ]
    for (const url of rejected) {
      const res = await fetch(url)
      expect({ url, status: res.status }).toEqual({ url, status: 403 })
      expect(await res.text()).toContain('AccessDenied')
    }
  })

  it('answers 404 for a correctly signed URL to a missing object', async () => {
    const res = await fetch(sign('uploads/missing'))
    expect(res.status).toBe(404)
  })
})

describe('dev key pair', () => {
  it('is created once in the data dir and reused on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'devstack-keys-'))
    try {
      const first = await loadOrCreateDevKeyPair(dir)
      const second = await loadOrCreateDevKeyPair(dir)
      expect(second).toEqual(first)
      expect(first.keyPairId).toMatch(/^K[A-Z0-9]{13}$/)
      const { mode } = await stat(join(dir, 'cloudfront-dev-key-pair.json'))
      expect(mode & 0o077).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
