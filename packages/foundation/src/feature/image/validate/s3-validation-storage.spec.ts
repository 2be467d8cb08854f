import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { closedPort, type S3Emulator, startS3Emulator } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../../common/errors.ts'
import { newImageId, objectKeyFor } from '../../../shared/image/image.ts'
import { createS3Client } from '../../../shared/storage/s3-client.ts'
import { createS3ValidationStorage } from './s3-validation-storage.ts'
import { StoredObjectNotFoundError } from '../../../shared/storage/s3-errors.ts'

const BUCKET = 'spec-s3-image-storage'

describe('S3ValidationStorage against the S3 emulator', () => {
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

  const storage = () => createS3ValidationStorage({ client, bucket: BUCKET })
  const freshKey = () => objectKeyFor(newImageId())
  const put = (key: string, body: Uint8Array, contentType = 'image/png') =>
    client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: contentType }))

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
      const bad = createS3ValidationStorage({ client: badClient, bucket: BUCKET })
      await expectUnavailable(bad.getObjectMetadata(freshKey()))
      await expectUnavailable(bad.readObject(freshKey()))
    } finally {
      badClient.destroy()
    }
  })
})

describe('S3ValidationStorage when storage is unreachable', () => {
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
      const storage = createS3ValidationStorage({ client, bucket: BUCKET })
      const key = objectKeyFor(newImageId())
      await expectUnavailable(storage.getObjectMetadata(key))
      await expectUnavailable(storage.readObjectHead(key, 10))
      await expectUnavailable(storage.readObject(key))
      await expectUnavailable(storage.deleteObject(key))
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
