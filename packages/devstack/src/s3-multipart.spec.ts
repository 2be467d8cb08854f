import { createHash } from 'node:crypto'
import { connect } from 'node:net'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmulatorS3Client } from './emulator-s3-client.ts'
import { MIN_PART_BYTES } from './s3-multipart.ts'
import { type S3Emulator, startS3Emulator } from './s3-emulator.ts'
import { waitFor } from './wait-for.ts'

const BUCKET = 'spec-s3-multipart'

/** What the SDK throws for an S3 error answer: its code and status. */
async function s3Error(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } }
    return { name: e.name, status: e.$metadata?.httpStatusCode }
  }
  throw new Error('expected the request to fail')
}

describe('S3 emulator: multipart uploads as S3 answers them', () => {
  let s3: S3Emulator
  let client: S3Client

  beforeAll(async () => {
    s3 = await startS3Emulator({ buckets: [BUCKET] })
    client = createEmulatorS3Client(s3, { maxAttempts: 1 })
  })
  afterAll(async () => {
    client.destroy()
    await s3.stop()
  })

  let keys = 0
  const start = async () => {
    const Key = `uploads/multipart-${++keys}`
    const { UploadId = '' } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key, ContentType: 'image/png' }))
    const put = async (PartNumber: number, body: Uint8Array) =>
      (await client.send(new UploadPartCommand({ Bucket: BUCKET, Key, UploadId, PartNumber, Body: body }))).ETag ?? ''
    const complete = (Parts: { PartNumber: number; ETag: string }[]) =>
      client.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key, UploadId, MultipartUpload: { Parts } }))
    const list = () => client.send(new ListPartsCommand({ Bucket: BUCKET, Key, UploadId }))
    return { Key, UploadId, put, complete, list }
  }
  const big = (fill: number) => new Uint8Array(MIN_PART_BYTES).fill(fill)

  it('lists the parts stored so far (ListParts), with their ETags and sizes', async () => {
    const upload = await start()
    expect((await upload.list()).Parts ?? []).toEqual([])
    const one = await upload.put(1, big(1))
    const three = await upload.put(3, new Uint8Array([3, 3, 3]))
    const listed = await upload.list()
    expect(listed.UploadId).toBe(upload.UploadId)
    expect(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([
      [1, one, MIN_PART_BYTES],
      [3, three, 3],
    ])
    expect(await s3Error(client.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'uploads/other', UploadId: upload.UploadId })))).toEqual({
      name: 'NoSuchUpload',
      status: 404,
    })
  })

  it('aborts an upload (DELETE ?uploadId): its parts are gone and nothing more can be added or completed', async () => {
    const upload = await start()
    const etag = await upload.put(1, new Uint8Array([1]))
    const aborted = await client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: upload.Key, UploadId: upload.UploadId }))
    expect(aborted.$metadata.httpStatusCode).toBe(204)
    expect(await s3Error(upload.list())).toEqual({ name: 'NoSuchUpload', status: 404 })
    expect(await s3Error(upload.put(2, new Uint8Array([2])))).toEqual({ name: 'NoSuchUpload', status: 404 })
    expect(await s3Error(upload.complete([{ PartNumber: 1, ETag: etag }]))).toEqual({ name: 'NoSuchUpload', status: 404 })
    expect(
      await s3Error(client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: upload.Key, UploadId: upload.UploadId }))),
    ).toEqual({ name: 'NoSuchUpload', status: 404 })
  })

  it('refuses a part for an upload that was never started', async () => {
    const Key = 'uploads/never-started'
    const put = client.send(
      new UploadPartCommand({ Bucket: BUCKET, Key, UploadId: 'ab'.repeat(16), PartNumber: 1, Body: new Uint8Array([1]) }),
    )
    expect(await s3Error(put)).toEqual({ name: 'NoSuchUpload', status: 404 })
  })

  it('checks the part list on complete: missing part, wrong ETag, order, duplicates, the 5 MiB minimum', async () => {
    const upload = await start()
    const one = await upload.put(1, big(1))
    const two = await upload.put(2, new Uint8Array(1024).fill(2))
    const three = await upload.put(3, new Uint8Array([3]))
    const refused = (parts: { PartNumber: number; ETag: string }[]) => s3Error(upload.complete(parts))

    expect(
      await refused([
        { PartNumber: 1, ETag: one },
        { PartNumber: 4, ETag: three },
      ]),
    ).toEqual({ name: 'InvalidPart', status: 400 })
    expect(await refused([{ PartNumber: 1, ETag: '"0123456789abcdef0123456789abcdef"' }])).toEqual({ name: 'InvalidPart', status: 400 })
    expect(
      await refused([
        { PartNumber: 2, ETag: two },
        { PartNumber: 1, ETag: one },
      ]),
    ).toEqual({ name: 'InvalidPartOrder', status: 400 })
    expect(
      await refused([
        { PartNumber: 1, ETag: one },
        { PartNumber: 1, ETag: one },
      ]),
    ).toEqual({ name: 'InvalidPartOrder', status: 400 })
    // Part 2 is 1 KiB and not the last.
    expect(
      await refused([
        { PartNumber: 1, ETag: one },
        { PartNumber: 2, ETag: two },
        { PartNumber: 3, ETag: three },
      ]),
    ).toEqual({ name: 'EntityTooSmall', status: 400 })
    // Nothing completed: the parts are all still there.
    expect((await upload.list()).Parts?.length).toBe(3)
    expect(await s3Error(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: upload.Key })))).toEqual({
      name: 'NoSuchKey',
      status: 404,
    })

    // A subset whose only small part is the last completes, with exactly those bytes.
    await upload.complete([
      { PartNumber: 1, ETag: one },
      { PartNumber: 3, ETag: three },
    ])
    const stored = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: upload.Key }))
    const bytes = (await stored.Body?.transformToByteArray()) ?? new Uint8Array()
    expect(bytes.length).toBe(MIN_PART_BYTES + 1)
    expect([bytes[0], bytes[MIN_PART_BYTES - 1], bytes[MIN_PART_BYTES]]).toEqual([1, 1, 3])
    expect(await s3Error(upload.list())).toEqual({ name: 'NoSuchUpload', status: 404 })
  })

  it("gives the completed object S3's ETag: the MD5 of the parts' MD5s, then the part count", async () => {
    const upload = await start()
    const first = big(7)
    const last = new Uint8Array([1, 2, 3])
    const parts = [
      { PartNumber: 1, ETag: await upload.put(1, first) },
      { PartNumber: 2, ETag: await upload.put(2, last) },
    ]
    const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest()
    const expected = `"${createHash('md5')
      .update(Buffer.concat([md5(first), md5(last)]))
      .digest('hex')}-2"`
    const seen: string[] = []
    const unsubscribe = s3.onObjectCreated((event) => {
      if (event.key === upload.Key) seen.push(event.eTag ?? '')
    })
    const completed = await upload.complete(parts)
    expect(completed.ETag).toBe(expected)
    expect((await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: upload.Key }))).ETag).toBe(expected)
    // A read pinned to that ETag is served; the bytes are the parts'.
    const pinned = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: upload.Key, IfMatch: expected }))
    expect((await pinned.Body?.transformToByteArray())?.length).toBe(MIN_PART_BYTES + 3)
    await waitFor(() => (seen.length > 0 ? true : undefined), { description: 'the ObjectCreated event' })
    unsubscribe()
    expect(seen).toEqual([expected.slice(1, -1)])
  })

  it('refuses a part PUT of more or fewer bytes than its signed Content-Length (403)', async () => {
    const upload = await start()
    const url = await getSignedUrl(
      client,
      new UploadPartCommand({ Bucket: BUCKET, Key: upload.Key, UploadId: upload.UploadId, PartNumber: 1, ContentLength: 10 }),
      { expiresIn: 60, signableHeaders: new Set(['content-length']) },
    )
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;host')
    expect((await fetch(url, { method: 'PUT', body: new Uint8Array(9) })).status).toBe(403)
    expect((await fetch(url, { method: 'PUT', body: new Uint8Array(11) })).status).toBe(403)
    expect((await upload.list()).Parts ?? []).toEqual([])
    expect((await fetch(url, { method: 'PUT', body: new Uint8Array(10) })).status).toBe(200)
    expect((await upload.list()).Parts?.map((p) => p.Size)).toEqual([10])
  })

  /** Sends a part PUT whose signed Content-Length is 10 with only 5 bytes; `then` says what follows. */
  async function shortPart(emulator: S3Emulator, then: 'half-close' | 'stall') {
    const c = createEmulatorS3Client(emulator, { maxAttempts: 1 })
    const { UploadId = '' } = await c.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'uploads/short' }))
    const url = new URL(
      await getSignedUrl(c, new UploadPartCommand({ Bucket: BUCKET, Key: 'uploads/short', UploadId, PartNumber: 1, ContentLength: 10 }), {
        expiresIn: 60,
        signableHeaders: new Set(['content-length']),
      }),
    )
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 10\r\n\r\n`)
        if (then === 'half-close') socket.end(Buffer.alloc(5))
        else socket.write(Buffer.alloc(5))
      })
      let text = ''
      socket.on('data', (chunk) => {
        text += chunk.toString()
      })
      socket.on('close', () => resolve(text))
      socket.on('error', reject)
    })
    const parts = (await c.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'uploads/short', UploadId }))).Parts ?? []
    c.destroy()
    return { answer, parts }
  }

  it('answers a body that ends short of its Content-Length with 400 IncompleteBody, and stores nothing', async () => {
    const { answer, parts } = await shortPart(s3, 'half-close')
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(answer).toContain('<Code>IncompleteBody</Code>')
    expect(parts).toEqual([])
  })

  it('answers a body that stops arriving with 400 RequestTimeout instead of hanging, and stores nothing', async () => {
    const impatient = await startS3Emulator({ buckets: [BUCKET], bodyIdleTimeoutMs: 300 })
    try {
      const { answer, parts } = await shortPart(impatient, 'stall')
      expect(answer).toMatch(/^HTTP\/1\.1 400 /)
      expect(answer).toContain('<Code>RequestTimeout</Code>')
      expect(parts).toEqual([])
    } finally {
      await impatient.stop()
    }
  })
})
