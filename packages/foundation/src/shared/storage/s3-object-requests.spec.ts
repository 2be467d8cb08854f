import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { S3Client } from '@aws-sdk/client-s3'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type SpecBucket, specS3Client, startSpecBucket } from '../../feature/image/testing/spec-bucket.ts'
import { createS3Client } from './s3-client.ts'
import { isS3NotFound, isS3PreconditionFailed, S3RequestError } from './s3-errors.ts'
import { createS3ObjectRequests, type S3ObjectRead } from './s3-object-requests.ts'

const BUCKET = 'spec-s3-object-requests'

async function text(read: S3ObjectRead): Promise<string> {
  const chunks: Uint8Array[] = []
  for await (const chunk of read.body) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

describe('S3ObjectRequests against the S3 emulator', () => {
  let bucket: SpecBucket
  beforeAll(async () => {
    bucket = await startSpecBucket(BUCKET)
  })
  afterAll(async () => {
    await bucket?.stop()
  })

  // A plain key takes the direct path; a key with a space goes through the SDK client. Both
  // must answer alike, and the emulator checks each request's signature.
  describe.each([
    ['direct (signed without the SDK client)', 'variants/01J0000000000000000000000A/thumbnail.webp'],
    ['through the SDK client', 'variants/with space/thumbnail.webp'],
  ])('%s', (_path, objectKey) => {
    it('stores the body with its Content-Type and Cache-Control, and reads it back whole and by range', async () => {
      const objects = createS3ObjectRequests({ client: bucket.client, bucket: BUCKET })
      await objects.putObject(objectKey, Buffer.from('0123456789'), { contentType: 'image/webp', cacheControl: 'public, max-age=60' })

      const whole = await objects.getObject(objectKey)
      expect(whole).toMatchObject({
        status: 200,
        contentType: 'image/webp',
        contentLength: 10,
        headers: { 'cache-control': 'public, max-age=60' },
      })
      expect(whole.etag).toMatch(/^"[0-9a-f]{32}"$/)
      expect(await text(whole)).toBe('0123456789')

      const start = await objects.getObject(objectKey, { range: 'bytes=0-3', ifMatch: whole.etag as string })
      expect(start).toMatchObject({ status: 206, contentRange: 'bytes 0-3/10', contentLength: 4 })
      expect(await text(start)).toBe('0123')
    })

    it('rejects a read pinned to another version as a failed precondition, and a missing key as not found', async () => {
      const objects = createS3ObjectRequests({ client: bucket.client, bucket: BUCKET })
      await objects.putObject(objectKey, Buffer.from('v1'), { contentType: 'image/png' })
      const changed = await objects.getObject(objectKey, { ifMatch: '"00000000000000000000000000000000"' }).catch((e: unknown) => e)
      expect(isS3PreconditionFailed(changed), String(changed)).toBe(true)
      const missing = await objects.getObject(`${objectKey}.missing`).catch((e: unknown) => e)
      expect(isS3NotFound(missing), String(missing)).toBe(true)
    })
  })

  it('is refused with a wrong secret: the signature is checked, and a refusal is not tried again', async () => {
    const client = specS3Client(bucket.s3, BUCKET, 'not-the-secret')
    try {
      const objects = createS3ObjectRequests({ client, bucket: BUCKET })
      const refused = await objects
        .putObject('variants/refused/x.webp', Buffer.from('x'), { contentType: 'image/webp' })
        .catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(S3RequestError)
      expect((refused as S3RequestError).status).toBe(403)
    } finally {
      client.destroy()
    }
  })
})

/** An HTTP server that answers each request with the next scripted handler. */
async function scriptedServer(script: Array<(req: IncomingMessage, res: ServerResponse, body: Buffer) => void>) {
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }> = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      const handler = script[Math.min(seen.length - 1, script.length - 1)]
      handler?.(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const client: S3Client = createS3Client({
    region: 'eu-west-1',
    bucket: BUCKET,
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  })
  return {
    seen,
    client,
    async close() {
      client.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const s3Error = (status: number, code: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/xml' })
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>scripted</Message></Error>`)
}
const ok = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { etag: '"abc"', 'content-type': 'image/png', 'content-length': '2' })
  res.end('ok')
}

describe('S3ObjectRequests on a scripted server', () => {
  let server: Awaited<ReturnType<typeof scriptedServer>> | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  it('sends a SigV4-signed PUT straight to the bucket path, with the body hash signed in', async () => {
    server = await scriptedServer([ok])
    const objects = createS3ObjectRequests({ client: server.client, bucket: BUCKET })
    await objects.putObject('variants/a/b.webp', Buffer.from('pixels'), { contentType: 'image/webp', cacheControl: 'immutable' })
    const [put] = server.seen
    // The SDK would add `?x-id=PutObject`: this request did not go through its client.
    expect(put?.url).toBe(`/${BUCKET}/variants/a/b.webp`)
    expect(put?.headers['x-amz-content-sha256']).toBe(createHash('sha256').update('pixels').digest('hex'))
    expect(put?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    )
    // SigV4 leaves Cache-Control unsigned (as the SDK does); it is still sent.
    expect(put?.headers['cache-control']).toBe('immutable')
    expect(put?.body.toString()).toBe('pixels')
  })

  it('tries a 503 SlowDown and a dropped connection again, and succeeds on the third try', async () => {
    server = await scriptedServer([s3Error(503, 'SlowDown'), (req) => req.socket.destroy(), ok])
    const objects = createS3ObjectRequests({ client: server.client, bucket: BUCKET, backoffBaseMs: 1 })
    const read = await objects.getObject('uploads/x', { range: 'bytes=0-1' })
    expect(await text(read)).toBe('ok')
    expect(server.seen.map((r) => r.headers.range)).toEqual(['bytes=0-1', 'bytes=0-1', 'bytes=0-1'])
  })

  it('gives up after three tries of a 500, with the status and S3 code', async () => {
    server = await scriptedServer([s3Error(500, 'InternalError')])
    const objects = createS3ObjectRequests({ client: server.client, bucket: BUCKET, backoffBaseMs: 1 })
    const error = await objects.putObject('variants/a/b.webp', Buffer.from('x'), { contentType: 'image/webp' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(S3RequestError)
    expect(error).toMatchObject({ status: 500, code: 'InternalError' })
    expect(server.seen).toHaveLength(3)
  })

  it('answers 404 NoSuchKey at once, as not found', async () => {
    server = await scriptedServer([s3Error(404, 'NoSuchKey')])
    const objects = createS3ObjectRequests({ client: server.client, bucket: BUCKET, backoffBaseMs: 1 })
    const error = await objects.getObject('uploads/missing').catch((e: unknown) => e)
    expect(isS3NotFound(error)).toBe(true)
    expect(server.seen).toHaveLength(1)
  })

  it('fails a try whose socket stays idle past the timeout', async () => {
    server = await scriptedServer([() => {}])
    const objects = createS3ObjectRequests({ client: server.client, bucket: BUCKET, socketTimeoutMs: 100, maxAttempts: 1 })
    await expect(objects.getObject('uploads/silent')).rejects.toThrow(/no bytes from 127.0.0.1 for 100 ms/)
  })
})
