import type { S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type SpecBucket, startSpecBucket } from '../testing/spec-bucket.ts'
import { DependencyUnavailableError } from '../../../common/errors.ts'
import { newImageId, objectKeyFor } from '../../../shared/image/image.ts'
import { createS3Client } from '../../../shared/storage/s3-client.ts'
import { createS3ValidationStorage } from '../validate/s3-validation-storage.ts'
import { createS3UploadStorage } from './s3-upload-storage.ts'

const BUCKET = 'spec-s3-image-storage'

describe('S3UploadStorage against the S3 emulator', () => {
  let bucket: SpecBucket
  let client: S3Client

  beforeAll(async () => {
    bucket = await startSpecBucket(BUCKET)
    ;({ client } = bucket)
  })
  afterAll(async () => {
    await bucket?.stop()
  })

  const storage = () => createS3UploadStorage({ client, bucket: BUCKET })
  const freshKey = () => objectKeyFor(newImageId())
  // What the bucket holds at a key, read with the SDK directly: the api's port never reads.
  const stored = (key: string) => createS3ValidationStorage({ client, bucket: BUCKET }).getObjectMetadata(key)

  it('signs content-type and if-none-match into a PUT URL that expires when it says', async () => {
    const signedAt = new Date('2030-01-02T03:04:05Z')
    const key = freshKey()
    const presigned = await createS3UploadStorage({ client, bucket: BUCKET, now: () => signedAt }).generatePresignedUploadUrl({
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
    expect(await stored(key)).toBeNull()

    const upload = await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: bytes })
    expect(upload.status).toBe(200)
    expect(await stored(key)).toMatchObject({ sizeBytes: bytes.length, contentType: 'image/png' })
  })

  it('issues a URL that cannot overwrite the object once it exists', async () => {
    const key = freshKey()
    const presigned = await storage().generatePresignedUploadUrl({ objectKey: key, contentType: 'image/png', expiresInSeconds: 300 })
    const first = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1])
    expect((await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: first })).status).toBe(200)

    const again = await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: new Uint8Array([9, 9, 9]) })
    expect(again.status).toBe(412)
    const withoutCondition = await fetch(presigned.url, {
      method: 'PUT',
      headers: { 'content-type': 'image/png' },
      body: new Uint8Array([9]),
    })
    expect(withoutCondition.status).toBe(403)
    expect(await stored(key)).toMatchObject({ sizeBytes: first.length, contentType: 'image/png' })
  })

  it('issues a URL the storage refuses after it expired', async () => {
    const key = freshKey()
    // Signed ten minutes ago for one minute: expired now, with no waiting.
    const past = new Date(Date.now() - 10 * 60_000)
    const presigned = await createS3UploadStorage({ client, bucket: BUCKET, now: () => past }).generatePresignedUploadUrl({
      objectKey: key,
      contentType: 'image/gif',
      expiresInSeconds: 60,
    })
    expect(presigned.expiresAt.getTime()).toBeLessThan(Date.now())
    const response = await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: new Uint8Array([1]) })
    expect(response.status).toBe(403)
    expect(await stored(key)).toBeNull()
  })
})

describe('S3UploadStorage when storage is unreachable', () => {
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
      const storage = createS3UploadStorage({ client, bucket: BUCKET })
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
