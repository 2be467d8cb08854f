import { request } from 'node:http'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { startS3Emulator } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newImageId, objectKeyFor } from '../../../shared/image/image.ts'
import { StoredObjectChangedError, StoredObjectNotFoundError } from '../../../shared/storage/s3-errors.ts'
import { createS3Client } from '../../../shared/storage/s3-client.ts'
import { createS3UploadStorage } from '../upload/s3-upload-storage.ts'
import type { PresignedUpload, UploadStorage } from '../upload/upload-storage.ts'
import { createS3ValidationStorage } from '../validate/s3-validation-storage.ts'
import type { ValidationStorage } from '../validate/validation-storage.ts'
import { InMemoryImageStorage } from './in-memory-image-storage.ts'

/**
 * One set of assertions, run against the in-memory fake and against the S3 adapters on the
 * S3 emulator: what the unit tests rely on in the fake is what the adapters do.
 */
type Subject = {
  storage: UploadStorage & ValidationStorage
  /** A client's PUT through the presigned URL, with its headers plus `extra`: the HTTP status. */
  upload(presigned: PresignedUpload, body: Uint8Array, extra?: Record<string, string>): Promise<number>
  /** An unconditional overwrite: what a store that ignores If-None-Match lets happen. */
  overwrite(objectKey: string, body: Uint8Array): Promise<void>
  close(): Promise<void>
}

const BUCKET = 'spec-image-storage-contract'

async function inMemory(): Promise<Subject> {
  const fake = new InMemoryImageStorage()
  return {
    storage: fake,
    upload: async (presigned, body, extra = {}) => fake.putPresigned(presigned.url, { ...presigned.headers, ...extra }, body),
    overwrite: async (objectKey, body) => {
      fake.put(objectKey, body)
    },
    close: async () => {},
  }
}

async function s3OnTheEmulator(): Promise<Subject> {
  const s3 = await startS3Emulator({ buckets: [BUCKET] })
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
  const client = createS3Client({ region: s3.region, bucket: BUCKET, endpoint: s3.endpoint, forcePathStyle: true, credentials })
  return {
    storage: { ...createS3UploadStorage({ client, bucket: BUCKET }), ...createS3ValidationStorage({ client, bucket: BUCKET }) },
    upload: (presigned, body, extra = {}) => putExactly(presigned.url, { ...presigned.headers, ...extra }, body),
    overwrite: async (objectKey, body) => {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: objectKey, Body: body, ContentType: 'image/png' }))
    },
    close: async () => {
      client.destroy()
      await s3.stop()
    },
  }
}

/**
 * A PUT with exactly these headers. fetch would add `Cache-Control: no-cache` to a request
 * carrying If-None-Match (the Fetch standard does, in browsers too); validate-image.spec.ts
 * covers what that means for an upload.
 */
function putExactly(url: string, headers: Record<string, string>, body: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const put = request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(body.length) } }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    put.on('error', reject)
    put.end(body)
  })
}

const bytes = Uint8Array.from({ length: 100 }, (_, i) => i)
const freshKey = () => objectKeyFor(newImageId())

describe.each([
  ['InMemoryImageStorage', inMemory],
  ['the S3 adapters on the S3 emulator', s3OnTheEmulator],
])('image storage contract: %s', (_name, create) => {
  let subject: Subject
  let storage: Subject['storage']
  beforeAll(async () => {
    subject = await create()
    storage = subject.storage
  })
  afterAll(() => subject.close())

  const presign = (objectKey: string) => storage.generatePresignedUploadUrl({ objectKey, contentType: 'image/png', expiresInSeconds: 300 })
  async function uploaded(body: Uint8Array, extra?: Record<string, string>): Promise<string> {
    const objectKey = freshKey()
    expect(await subject.upload(await presign(objectKey), body, extra)).toBe(200)
    return objectKey
  }
  const etagOf = async (objectKey: string) => (await storage.getObjectMetadata(objectKey))?.etag ?? ''

  it('presigns a PUT to send with exactly content-type and if-none-match: *, which storage takes once', async () => {
    const objectKey = freshKey()
    const presigned = await presign(objectKey)
    expect(presigned.headers).toEqual({ 'content-type': 'image/png', 'if-none-match': '*' })
    expect(await subject.upload(presigned, bytes)).toBe(200)
    expect(await subject.upload(presigned, new Uint8Array([1]))).toBe(412)
    expect(await storage.getObjectMetadata(objectKey)).toMatchObject({ sizeBytes: 100 })
  })

  it('refuses a PUT that leaves out if-none-match or changes the content type', async () => {
    const objectKey = freshKey()
    const presigned = await presign(objectKey)
    expect(await subject.upload({ ...presigned, headers: { 'content-type': 'image/png' } }, bytes)).toBe(403)
    expect(await subject.upload(presigned, bytes, { 'content-type': 'text/html' })).toBe(403)
    expect(await storage.getObjectMetadata(objectKey)).toBeNull()
  })

  it('signs a declared size: a PUT of more or fewer bytes is refused (403), the exact size is stored', async () => {
    const objectKey = freshKey()
    const presigned = await storage.generatePresignedUploadUrl({
      objectKey,
      contentType: 'image/png',
      expiresInSeconds: 300,
      contentLength: 100,
    })
    if (presigned.url.startsWith('http://127.0.0.1')) {
      expect(new URL(presigned.url).searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host;if-none-match')
    }
    expect(presigned.headers).toEqual({ 'content-type': 'image/png', 'if-none-match': '*' })
    expect(await subject.upload(presigned, bytes.subarray(0, 99))).toBe(403)
    expect(await subject.upload(presigned, new Uint8Array(101))).toBe(403)
    expect(await storage.getObjectMetadata(objectKey)).toBeNull()
    expect(await subject.upload(presigned, bytes)).toBe(200)
    expect(await storage.getObjectMetadata(objectKey)).toMatchObject({ sizeBytes: 100 })
  })

  it('reports size, content type and ETag, and no stored headers for an upload made as issued', async () => {
    const objectKey = await uploaded(bytes)
    const metadata = await storage.getObjectMetadata(objectKey)
    expect(metadata).toEqual({ sizeBytes: 100, contentType: 'image/png', etag: expect.stringMatching(/^"[0-9a-f]{32}"$/), headers: {} })
    expect(await etagOf(await uploaded(bytes))).toBe(metadata?.etag)
    expect(await etagOf(await uploaded(new Uint8Array([1, 2])))).not.toBe(metadata?.etag)
  })

  it('stores the standard response headers an uploader sends along unsigned, and reports them', async () => {
    const sent = {
      'cache-control': 'public, max-age=1',
      'content-disposition': 'attachment; filename=x.html',
      'content-encoding': 'gzip',
      'content-language': 'xx',
      expires: 'Thu, 01 Jan 2099 00:00:00 GMT',
    }
    const objectKey = await uploaded(bytes, sent)
    expect((await storage.getObjectMetadata(objectKey))?.headers).toEqual(sent)
    expect((await storage.readObjectStart(objectKey, { bytes: 10 }))?.object.headers).toEqual(sent)
  })

  it('reads the start with the metadata in one request, and the whole object of the version it names', async () => {
    const objectKey = await uploaded(bytes)
    const etag = await etagOf(objectKey)
    const metadata = await storage.getObjectMetadata(objectKey)
    expect(await storage.readObjectStart(objectKey, { bytes: 10 })).toEqual({ object: metadata, head: bytes.subarray(0, 10) })
    expect(await storage.readObjectStart(objectKey, { bytes: 1000 })).toEqual({ object: metadata, head: bytes })
    expect(await storage.readObject(objectKey, { maxBytes: 100, etag })).toEqual(bytes)
  })

  it('stops a full read one byte past maxBytes', async () => {
    const objectKey = await uploaded(bytes)
    expect(await storage.readObject(objectKey, { maxBytes: 40, etag: await etagOf(objectKey) })).toEqual(bytes.subarray(0, 41))
  })

  it('reads an empty object as no bytes', async () => {
    const objectKey = await uploaded(new Uint8Array(0))
    const etag = await etagOf(objectKey)
    expect(await storage.getObjectMetadata(objectKey)).toMatchObject({ sizeBytes: 0 })
    expect(await storage.readObjectStart(objectKey, { bytes: 4100 })).toMatchObject({
      object: { sizeBytes: 0, etag },
      head: new Uint8Array(0),
    })
    expect(await storage.readObject(objectKey, { maxBytes: 10, etag })).toEqual(new Uint8Array(0))
  })

  it('refuses to read a version that was replaced (If-Match), and reads the new one', async () => {
    const objectKey = await uploaded(bytes)
    const before = await etagOf(objectKey)
    await subject.overwrite(objectKey, new Uint8Array([9, 9, 9]))
    await expect(storage.readObject(objectKey, { maxBytes: 10, etag: before })).rejects.toBeInstanceOf(StoredObjectChangedError)
    const after = await etagOf(objectKey)
    expect(after).not.toBe(before)
    expect(await storage.readObject(objectKey, { maxBytes: 10, etag: after })).toEqual(new Uint8Array([9, 9, 9]))
  })

  it('answers null metadata and start, and StoredObjectNotFoundError full reads, for a missing object', async () => {
    const objectKey = freshKey()
    expect(await storage.getObjectMetadata(objectKey)).toBeNull()
    expect(await storage.readObjectStart(objectKey, { bytes: 10 })).toBeNull()
    await expect(storage.readObject(objectKey, { maxBytes: 10, etag: '"x"' })).rejects.toBeInstanceOf(StoredObjectNotFoundError)
  })

  it('deletes idempotently', async () => {
    const objectKey = await uploaded(bytes)
    await storage.deleteObject(objectKey)
    expect(await storage.getObjectMetadata(objectKey)).toBeNull()
    await expect(storage.deleteObject(objectKey)).resolves.toBeUndefined()
  })
})
