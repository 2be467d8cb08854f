import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmulatorS3Client } from './emulator-s3-client.ts'
import { startS3Emulator } from './s3-emulator.ts'
import type { ObjectCreatedEvent, S3Emulator } from './s3-emulator.ts'
import { waitFor } from './wait-for.ts'

const BUCKET = 'spec-s3-emulator'

function clientFor(s3: S3Emulator, secretAccessKey = s3.secretAccessKey) {
  return createEmulatorS3Client({ ...s3, secretAccessKey }, { maxAttempts: 1 })
}

describe('S3 emulator', () => {
  let s3: S3Emulator
  let client: S3Client

  beforeAll(async () => {
    s3 = await startS3Emulator({ port: 0, buckets: [BUCKET] })
    client = clientFor(s3)
  })
  afterAll(async () => {
    client.destroy()
    await s3.stop()
  })

  const presignPut = (key: string, options: { expiresIn?: number; signingDate?: Date } = {}) =>
    getSignedUrl(client, new PutObjectCommand({ Bucket: BUCKET, Key: key, ContentType: 'image/png' }), {
      expiresIn: options.expiresIn ?? 60,
      signingDate: options.signingDate,
      signableHeaders: new Set(['content-type']),
    })

  it('holds the matching requests after the first `after`, serves them on release, and drops those whose client left', async () => {
    const exists = (key: string) =>
      client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })).then(
        () => true,
        () => false,
      )
    const hold = s3.holdRequests({ method: 'PUT', keyPrefix: 'variants/held/' }, { after: 1 })
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'variants/held/first', Body: '1' }))
    // Another prefix is never held.
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/not-held', Body: '0' }))
    const second = client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'variants/held/second', Body: '2' }))
    const leaving = new AbortController()
    const third = client
      .send(new PutObjectCommand({ Bucket: BUCKET, Key: 'variants/held/third', Body: '3' }), { abortSignal: leaving.signal })
      .catch((error: Error) => error.name)
    await hold.held
    expect(await exists('variants/held/second')).toBe(false)
    leaving.abort()
    expect(await third).toBe('AbortError')
    await waitFor(async () => (hold.count() === 1 ? true : undefined), { description: 'the aborted request no longer held' })
    hold.release()
    await second
    expect(await exists('variants/held/second')).toBe(true)
    expect(await exists('variants/held/third')).toBe(false)
  })

  it('accepts a presigned PUT sent with the signed Content-Type', async () => {
    const url = await presignPut('uploads/ok.png')
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toContain('content-type')
    const res = await fetch(url, { method: 'PUT', body: Buffer.from('png bytes'), headers: { 'Content-Type': 'image/png' } })
    expect(res.status).toBe(200)
    const stored = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/ok.png' }))
    expect(stored.ContentType).toBe('image/png')
    expect(await stored.Body?.transformToString()).toBe('png bytes')
  })

  it('honours If-None-Match: * on PUT, so a signed-once URL cannot overwrite the object', async () => {
    const url = await getSignedUrl(
      client,
      new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/once.png', ContentType: 'image/png', IfNoneMatch: '*' }),
      { expiresIn: 60, signableHeaders: new Set(['content-type', 'if-none-match']) },
    )
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toContain('if-none-match')
    const put = (body: string) =>
      fetch(url, { method: 'PUT', body: Buffer.from(body), headers: { 'Content-Type': 'image/png', 'If-None-Match': '*' } })
    expect((await put('first')).status).toBe(200)
    expect((await put('second')).status).toBe(412)
    const stored = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/once.png' }))
    expect(await stored.Body?.transformToString()).toBe('first')
    // Without the signed header the request no longer matches its signature.
    const unsigned = await fetch(url, { method: 'PUT', body: Buffer.from('third'), headers: { 'Content-Type': 'image/png' } })
    expect(unsigned.status).toBe(403)
  })

  it('checks the signature before If-None-Match: a tampered PUT to an existing key is 403, not 412', async () => {
    const key = 'uploads/exists.png'
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'original', ContentType: 'image/png' }))
    const url = new URL(
      await getSignedUrl(client, new PutObjectCommand({ Bucket: BUCKET, Key: key, ContentType: 'image/png', IfNoneMatch: '*' }), {
        expiresIn: 60,
        signableHeaders: new Set(['content-type', 'if-none-match']),
      }),
    )
    const tampered = new URL(url)
    const signature = url.searchParams.get('X-Amz-Signature') ?? ''
    tampered.searchParams.set('X-Amz-Signature', `${signature[0] === '0' ? '1' : '0'}${signature.slice(1)}`)
    const put = (target: URL) =>
      fetch(target, { method: 'PUT', body: Buffer.from('overwrite'), headers: { 'Content-Type': 'image/png', 'If-None-Match': '*' } })

    const forged = await put(tampered)
    expect(forged.status).toBe(403)
    expect(await forged.text()).toContain('SignatureDoesNotMatch')
    const genuine = await put(url)
    expect(genuine.status).toBe(412)
    expect(await genuine.text()).toContain('PreconditionFailed')
    const stored = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
    expect(await stored.Body?.transformToString()).toBe('original')
  })

  it('rejects a presigned PUT sent with another Content-Type', async () => {
    const url = await presignPut('uploads/other-type.png')
    const res = await fetch(url, { method: 'PUT', body: Buffer.from('<html>'), headers: { 'Content-Type': 'text/html' } })
    expect(res.status).toBe(403)
    expect(await res.text()).toContain('SignatureDoesNotMatch')
  })

  it('rejects a presigned PUT after it expired (signed in the past)', async () => {
    const url = await presignPut('uploads/late.png', { expiresIn: 1, signingDate: new Date(Date.now() - 5000) })
    const res = await fetch(url, { method: 'PUT', body: Buffer.from('x'), headers: { 'Content-Type': 'image/png' } })
    expect(res.status).toBe(403)
    expect(await res.text()).toContain('Request has expired')
  })

  it('rejects a presigned PUT once its 1-second lifetime has passed', async () => {
    const url = await presignPut('uploads/expiring.png', { expiresIn: 1 })
    const status = await waitFor(
      async () => {
        const res = await fetch(url, { method: 'PUT', body: Buffer.from('x'), headers: { 'Content-Type': 'image/png' } })
        return res.status === 403 ? res.status : undefined
      },
      { timeoutMs: 4000, intervalMs: 200, description: 'presigned URL to expire' },
    )
    expect(status).toBe(403)
  })

  it('rejects a presigned URL whose key or expiry was tampered with', async () => {
    const url = new URL(await presignPut('uploads/a.png'))
    const otherKey = url.toString().replace('uploads/a.png', 'uploads/b.png')
    const longer = new URL(url)
    longer.searchParams.set('X-Amz-Expires', '604800')
    for (const target of [otherKey, longer.toString()]) {
      const res = await fetch(target, { method: 'PUT', body: Buffer.from('x'), headers: { 'Content-Type': 'image/png' } })
      expect(res.status).toBe(403)
    }
  })

  it('rejects a malformed X-Amz-Expires that s3rver alone would treat as never expiring', async () => {
    const url = new URL(await presignPut('uploads/forever.png'))
    url.searchParams.set('X-Amz-Expires', 'never')
    const res = await fetch(url, { method: 'PUT', body: Buffer.from('x'), headers: { 'Content-Type': 'image/png' } })
    expect(res.status).toBe(400)
  })

  it('rejects anonymous requests and wrong secrets', async () => {
    const anonymous = await fetch(`${s3.endpoint}/${BUCKET}/uploads/ok.png`)
    expect(anonymous.status).toBe(403)
    const anonymousPut = await fetch(`${s3.endpoint}/${BUCKET}/uploads/anon.png`, { method: 'PUT', body: 'x' })
    expect(anonymousPut.status).toBe(403)
    const wrong = clientFor(s3, 'not-the-secret')
    await expect(wrong.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/ok.png' }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    })
    wrong.destroy()
  })

  it('reports each stored object once: put, copy and multipart completion', async () => {
    const seen: ObjectCreatedEvent[] = []
    const unsubscribe = s3.onObjectCreated((event) => seen.push(event))
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'events/put.txt', Body: 'hello' }))
    await client.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'events/copy.txt', CopySource: `${BUCKET}/events/put.txt` }))
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'events/multi.txt' }))
    const part = await client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: 'events/multi.txt', UploadId, PartNumber: 1, Body: 'parts' }),
    )
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'events/multi.txt',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    )
    await waitFor(() => (seen.length >= 3 ? true : undefined), { description: 'three object events' })
    unsubscribe()
    const byKey = Object.fromEntries(seen.map((e) => [e.key, e]))
    expect(seen).toHaveLength(3)
    expect(byKey['events/put.txt']).toMatchObject({ eventName: 'ObjectCreated:Put', bucket: BUCKET, size: 5 })
    expect(byKey['events/put.txt']?.eTag).toMatch(/^[0-9a-f]{32}$/)
    expect(byKey['events/copy.txt']).toMatchObject({ eventName: 'ObjectCreated:Copy', size: 5 })
    expect(byKey['events/copy.txt']?.eTag).toBe(byKey['events/put.txt']?.eTag)
    expect(byKey['events/multi.txt']).toMatchObject({ eventName: 'ObjectCreated:CompleteMultipartUpload', size: 5 })
  })
})
