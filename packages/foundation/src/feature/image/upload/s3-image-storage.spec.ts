import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { closedPort, type S3Emulator, startS3Emulator } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../../common/errors.ts'
import { newImageId, objectKeyFor } from '../../../shared/image/image.ts'
import { createS3Client } from '../../../shared/storage/s3-client.ts'
import { createS3ImageStorage } from './s3-image-storage.ts'
import { StoredObjectNotFoundError } from './upload-error.ts'

const BUCKET = 'spec-s3-image-storage'

describe('S3ImageStorage against the S3 emulator', () => {
  let s3: S3Emulator
  let client: S3Client

  beforeAll(async () => {
    s3 = await startS3Emulator({ buckets: [BUCKET] })
    client = createS3Client({
      region: s3.region,
      bucket: BUCKET,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    })
  })
  afterAll(async () => {
    client.destroy()
    await s3.stop()
  })

  const storage = () => createS3ImageStorage({ client, bucket: BUCKET })
  const freshKey = () => objectKeyFor(newImageId())
  const put = (key: string, body: Uint8Array, contentType = 'image/png') =>
    client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: contentType }))

  it('signs content-type and if-none-match into a PUT URL that expires when it says', async () => {
    const signedAt = new Date('2030-01-02T03:04:05Z')
    const key = freshKey()
    const presigned = await createS3ImageStorage({ client, bucket: BUCKET, now: () => signedAt }).generatePresignedUploadUrl({
      objectKey: key,
      contentType: 'image/webp',
      expiresInSeconds: 300,
    })
    const url = new URL(presigned.url)
    expect(url.pathname).toBe(`/${BUCKET}/${key}`)
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(['content-type', 'host', 'if-none-match'])
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300')
    expect(url.searchParams.get('X-Amz-Date')).toBe('20300102T030405Z')
    expect(presigned.headers).toEqual({ 'content-type': 'image/webp', 'if-none-match': '*' })
    expect(presigned.expiresAt.toISOString()).toBe('2030-01-02T03:09:05.000Z')
  })

  it('issues a URL that accepts the declared Content-Type and refuses another one', async () => {
    const key = freshKey()
    const presigned = await storage().generatePresignedUploadUrl({ objectKey: key, contentType: 'image/png', expiresInSeconds: 300 })
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])

    const wrongType = await fetch(presigned.url, { method: 'PUT', headers: { 'content-type': 'text/html' }, body: bytes })
    expect(wrongType.status).toBe(403)
    expect(await storage().getObjectMetadata(key)).toBeNull()

    const upload = await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: bytes })
    expect(upload.status).toBe(200)
    expect(await storage().getObjectMetadata(key)).toEqual({ sizeBytes: bytes.length, contentType: 'image/png' })
  })

  it('issues a URL that cannot overwrite the object once it exists', async () => {
    const key = freshKey()
    const presigned = await storage().generatePresignedUploadUrl({ objectKey: key, contentType: 'image/png', expiresInSeconds: 300 })
    const first = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1])
    expect((await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: first })).status).toBe(200)

    const again = await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: new Uint8Array([9, 9, 9]) })
    expect(again.status).toBe(412)
    const withoutCondition = await fetch(presigned.url, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: new Uint8Array([9]) })
    expect(withoutCondition.status).toBe(403)
    expect(await storage().getObjectMetadata(key)).toEqual({ sizeBytes: first.length, contentType: 'image/png' })
  })

  it('issues a URL the storage refuses after it expired', async () => {
    const key = freshKey()
    // Signed ten minutes ago for one minute: expired now, with no waiting.
    const past = new Date(Date.now() - 10 * 60_000)
    const presigned = await createS3ImageStorage({ client, bucket: BUCKET, now: () => past }).generatePresignedUploadUrl({
      objectKey: key,
      contentType: 'image/gif',
      expiresInSeconds: 60,
    })
    expect(presigned.expiresAt.getTime()).toBeLessThan(Date.now())
    const response = await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: new Uint8Array([1]) })
    expect(response.status).toBe(403)
    expect(await storage().getObjectMetadata(key)).toBeNull()
  })

  it('reads metadata, a ranged head and whole objects, and null for a missing object', async () => {
    const key = freshKey()
    const bytes = Uint8Array.from({ length: 100 }, (_, i) => i)
    await put(key, bytes, 'image/jpeg')
    expect(await storage().getObjectMetadata(key)).toEqual({ sizeBytes: 100, contentType: 'image/jpeg' })
    expect(await storage().readObjectHead(key, 10)).toEqual(bytes.subarray(0, 10))
    expect(await storage().readObjectHead(key, 1000)).toEqual(bytes)
    expect(await storage().readObject(key)).toEqual(bytes)
    expect(await storage().getObjectMetadata(freshKey())).toBeNull()
  })

  it('reads the head of an empty object as no bytes', async () => {
    const key = freshKey()
    await put(key, new Uint8Array(0))
    expect(await storage().getObjectMetadata(key)).toMatchObject({ sizeBytes: 0 })
    expect(await storage().readObjectHead(key, 4100)).toEqual(new Uint8Array(0))
    expect(await storage().readObject(key)).toEqual(new Uint8Array(0))
  })

  it('reports reads of a missing object as StoredObjectNotFoundError', async () => {
    const key = freshKey()
    await expect(storage().readObjectHead(key, 10)).rejects.toBeInstanceOf(StoredObjectNotFoundError)
    await expect(storage().readObject(key)).rejects.toBeInstanceOf(StoredObjectNotFoundError)
  })

  it('deletes idempotently', async () => {
    const key = freshKey()
    await put(key, new Uint8Array([1, 2, 3]))
    await storage().deleteObject(key)
    expect(await storage().getObjectMetadata(key)).toBeNull()
    await expect(storage().deleteObject(key)).resolves.toBeUndefined()
  })

  it('turns refused credentials into STORAGE_UNAVAILABLE', async () => {
    const badClient = createS3Client({
      region: s3.region,
      bucket: BUCKET,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'not-the-secret' },
    })
    try {
      const bad = createS3ImageStorage({ client: badClient, bucket: BUCKET })
      await expectUnavailable(bad.getObjectMetadata(freshKey()))
      await expectUnavailable(bad.readObject(freshKey()))
    } finally {
      badClient.destroy()
    }
  })
})

describe('S3ImageStorage when storage is unreachable', () => {
  it('throws STORAGE_UNAVAILABLE from every call', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`
    const client = createS3Client({
      region: 'us-east-1',
      bucket: BUCKET,
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    })
    try {
      const storage = createS3ImageStorage({ client, bucket: BUCKET })
      const key = objectKeyFor(newImageId())
      await expectUnavailable(storage.getObjectMetadata(key))
      await expectUnavailable(storage.readObjectHead(key, 10))
      await expectUnavailable(storage.readObject(key))
      await expectUnavailable(storage.deleteObject(key))
    } finally {
      client.destroy()
    }
  })

  it('throws STORAGE_UNAVAILABLE when no credentials can be obtained to presign', async () => {
    const client = createS3Client({
      region: 'us-east-1',
      bucket: BUCKET,
      endpoint: 'http://127.0.0.1:9',
      forcePathStyle: true,
      credentials: async () => {
        throw new Error('credential provider unreachable')
      },
    })
    try {
      const storage = createS3ImageStorage({ client, bucket: BUCKET })
      await expectUnavailable(
        storage.generatePresignedUploadUrl({ objectKey: objectKeyFor(newImageId()), contentType: 'image/png', expiresInSeconds: 60 }),
      )
    } finally {
      client.destroy()
    }
  })
})

async function expectUnavailable(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DependencyUnavailableError)
  expect(error).toMatchObject({ kind: 'unavailable', code: 'STORAGE_UNAVAILABLE' })
}
