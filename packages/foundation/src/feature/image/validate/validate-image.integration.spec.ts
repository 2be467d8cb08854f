import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { createTestDatabase, type S3Emulator, startS3Emulator, type TestDatabase } from '@image-service/devstack'
import { TEST_IMAGE_LIMITS as limits } from '@image-service/devstack/corpus'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDatabase, type Database } from '../../../shared/database/database.ts'
import { systemContext } from '../../../shared/identity/request-context.ts'
import { type ImageContentType, type ImageId, newImageId, objectKeyFor, variantKeyFor } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { createPostgresImageRepository } from '../../../shared/image/postgres-image-repository.ts'
import { createS3Client } from '../../../shared/storage/s3-client.ts'
import { createS3UploadStorage } from '../upload/s3-upload-storage.ts'
import type { UploadStorage } from '../upload/upload-storage.ts'
import { DEFAULT_VARIANT_CONFIG } from '../../../common/variant-settings.ts'
import { createImageVariants, type ImageVariants } from '../variants/image-variants.ts'
import { createS3VariantStorage } from '../variants/s3-variant-storage.ts'
import { VARIANT_CACHE_CONTROL } from '../variants/variant-storage.ts'
import { createS3ValidationStorage } from './s3-validation-storage.ts'
import { createValidateImage, type ValidateImage } from './validate-image.ts'
import type { ValidationStorage } from './validation-storage.ts'

// ValidateImage on the real parts: PostgreSQL, the S3 emulator, presigned PUTs.
const BUCKET = 'spec-validate-image'
const ctx = systemContext('spec', 'spec-request')

let testDatabase: TestDatabase
let database: Database
let s3: S3Emulator
let client: S3Client
let images: ImageRepository
let storage: ValidationStorage
let uploads: UploadStorage
let validate: ValidateImage
let variants: ImageVariants
let png: Uint8Array

beforeAll(async () => {
  testDatabase = await createTestDatabase(inject('databaseServerUrl'))
  database = createDatabase({ url: testDatabase.url, poolMax: 4 })
  s3 = await startS3Emulator({ buckets: [BUCKET] })
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
  client = createS3Client({ region: s3.region, bucket: BUCKET, endpoint: s3.endpoint, forcePathStyle: true, credentials })
  images = createPostgresImageRepository(database.db)
  storage = createS3ValidationStorage({ client, bucket: BUCKET })
  uploads = createS3UploadStorage({ client, bucket: BUCKET })
  variants = createImageVariants({
    storage: createS3VariantStorage({ client, bucket: BUCKET }),
    config: DEFAULT_VARIANT_CONFIG,
    limitInputPixels: limits.maxTotalPixels,
  })
  validate = createValidateImage({ images, storage, variants, limits })
  png = new Uint8Array(
    await sharp({ create: { width: 32, height: 24, channels: 3, background: '#884422' } })
      .png()
      .toBuffer(),
  )
})
afterAll(async () => {
  client.destroy()
  await s3.stop()
  await database.close()
  await testDatabase.drop()
})

async function pendingRecord(contentType: ImageContentType = 'image/png'): Promise<ImageId> {
  const id = newImageId()
  await images.save({ id, ownerId: 'owner-a', contentType, fileName: 'spec', objectKey: objectKeyFor(id) })
  return id
}

/** A client's PUT through a presigned URL, sending the issued headers plus `extra`. */
async function put(id: ImageId, bytes: Uint8Array, extra: Record<string, string> = {}): Promise<void> {
  const presigned = await uploads.generatePresignedUploadUrl({
    objectKey: objectKeyFor(id),
    contentType: 'image/png',
    expiresInSeconds: 60,
  })
  const response = await fetch(presigned.url, { method: 'PUT', headers: { ...presigned.headers, ...extra }, body: bytes })
  expect(response.status).toBe(200)
}

/** What a store that ignores If-None-Match lets happen to an object already there. */
const overwrite = (id: ImageId, body: Uint8Array) =>
  client.send(new PutObjectCommand({ Bucket: BUCKET, Key: objectKeyFor(id), Body: body, ContentType: 'image/png' }))

const stored = (id: ImageId) => storage.getObjectMetadata(objectKeyFor(id))

/** Every object under variants/{id}/, with the headers storage serves it with. */
async function storedVariants(id: ImageId) {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `variants/${id}/` }))
  return Promise.all(
    (listed.Contents ?? []).map(async ({ Key }) => {
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key }))
      return { key: Key, contentType: head.ContentType, cacheControl: head.CacheControl, sizeBytes: head.ContentLength }
    }),
  )
}

describe('ValidateImage on PostgreSQL and the S3 emulator', () => {
  it('stores every variant under variants/{id}/ with its Content-Type and an immutable Cache-Control before the record is ready', async () => {
    const id = await pendingRecord()
    await put(id, png)
    expect(await validate(ctx, id)).toEqual({ outcome: 'ready', sizeBytes: png.length })
    const record = await images.findById(id)
    expect(record).toMatchObject({ status: 'ready', width: 32, height: 24 })
    expect(record?.variants.map((v) => `${v.name}.${v.format}`)).toEqual(['thumbnail.webp', 'medium.webp', 'large.webp'])
    expect(await storedVariants(id)).toEqual(
      expect.arrayContaining(
        (record?.variants ?? []).map((v) => ({
          key: variantKeyFor(id, v.name, v.format),
          contentType: 'image/webp',
          cacheControl: VARIANT_CACHE_CONTROL,
          sizeBytes: v.sizeBytes,
        })),
      ),
    )
    expect(await storedVariants(id)).toHaveLength(3)
  })

  it('leaves no variant of a rejected upload, nor of a ready one whose object was replaced', async () => {
    const rejected = await pendingRecord()
    await put(rejected, new TextEncoder().encode('not an image at all'))
    expect(await validate(ctx, rejected)).toEqual({ outcome: 'failed', reason: 'not_an_image' })
    expect(await storedVariants(rejected)).toEqual([])

    const replaced = await pendingRecord()
    await put(replaced, png)
    expect(await validate(ctx, replaced)).toMatchObject({ outcome: 'ready' })
    expect(await storedVariants(replaced)).toHaveLength(3)
    await overwrite(replaced, new TextEncoder().encode('<html>'))
    expect(await validate(ctx, replaced)).toEqual({ outcome: 'failed', reason: 'replaced' })
    expect(await storedVariants(replaced)).toEqual([])
  })

  it('removes the variants it wrote when the record was deleted while they were derived', async () => {
    const id = await pendingRecord()
    await put(id, png)
    const deletedMeanwhile = createValidateImage({
      images,
      storage,
      variants: {
        create: async (imageId, bytes) => {
          const derived = await variants.create(imageId, bytes)
          await images.markDeleted(imageId, ctx)
          return derived
        },
        remove: variants.remove,
      },
      limits,
    })
    expect(await deletedMeanwhile(ctx, id)).toEqual({ outcome: 'skipped', status: 'deleted' })
    expect(await storedVariants(id)).toEqual([])
  })

  it('removes the variants of a failed record again on a later event (a crash after they were written)', async () => {
    const id = await pendingRecord()
    await put(id, png)
    await variants.create(id, png)
    await images.transitionFromPending(id, { status: 'failed', failureReason: 'expired' }, ctx)
    expect(await storedVariants(id)).toHaveLength(3)
    expect(await validate(ctx, id)).toEqual({ outcome: 'skipped', status: 'failed' })
    expect(await storedVariants(id)).toEqual([])
  })

  it('never deletes the bytes of a record a duplicate delivery has just marked ready', async () => {
    const id = await pendingRecord()
    // Delivery B's HEAD runs before the bytes are there, and B is held until A has finished.
    let releaseB!: () => void
    const bHeld = new Promise<void>((resolve) => {
      releaseB = resolve
    })
    let bHeaded!: () => void
    const bHasHeaded = new Promise<void>((resolve) => {
      bHeaded = resolve
    })
    const bView: ValidationStorage = {
      ...storage,
      readObjectStart: async (key, read) => {
        const seen = await storage.readObjectStart(key, read)
        bHeaded()
        await bHeld
        return seen
      },
    }
    const deliveryB = createValidateImage({ images, storage: bView, variants, limits })(ctx, id)
    await bHasHeaded
    await put(id, png)
    expect(await validate(ctx, id)).toEqual({ outcome: 'ready', sizeBytes: png.length })
    releaseB()

    expect(await deliveryB).toEqual({ outcome: 'skipped', status: 'ready' })
    expect(await images.findById(id)).toMatchObject({ status: 'ready', etag: (await stored(id))?.etag })
    expect(await stored(id)).toMatchObject({ sizeBytes: png.length })
  })

  it.each([
    ['Content-Disposition', 'attachment; filename=x.html'],
    ['Content-Encoding', 'gzip'],
  ])('fails an upload whose PUT carried %s (stored by S3, served by the CDN) as unexpected_headers', async (name, value) => {
    const id = await pendingRecord()
    await put(id, png, { [name]: value })
    expect((await stored(id))?.headers).toEqual({ [name.toLowerCase()]: value, 'cache-control': 'no-cache' })

    expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason: 'unexpected_headers' })
    expect(await images.findById(id)).toMatchObject({ status: 'failed', failureReason: 'unexpected_headers' })
    expect(await stored(id)).toBeNull()
  })

  it('accepts an upload made with fetch, which adds Cache-Control: no-cache to a conditional PUT', async () => {
    const id = await pendingRecord()
    await put(id, png)
    expect((await stored(id))?.headers).toEqual({ 'cache-control': 'no-cache' })
    expect(await validate(ctx, id)).toEqual({ outcome: 'ready', sizeBytes: png.length })
  })

  it('retries when the object changes between its first read and the full one (412 on If-Match), then judges the new bytes', async () => {
    const id = await pendingRecord()
    await put(id, png)
    const swapping: ValidationStorage = {
      ...storage,
      // A head shorter than the object, so the rest is read as a second, pinned GET.
      readObjectStart: async (key) => {
        const measured = await storage.readObjectStart(key, { bytes: 16 })
        await overwrite(id, new TextEncoder().encode('<svg onload=alert(1)>'))
        return measured
      },
    }
    expect(await createValidateImage({ images, storage: swapping, variants, limits })(ctx, id)).toEqual({
      outcome: 'retry',
      reason: 'OBJECT_CHANGED',
    })
    expect(await images.findById(id)).toMatchObject({ status: 'pending' })

    expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason: 'not_an_image' })
    expect(await stored(id)).toBeNull()
  })

  it('fails a ready image whose object was overwritten as replaced, and deletes the object', async () => {
    const id = await pendingRecord()
    await put(id, png)
    expect(await validate(ctx, id)).toMatchObject({ outcome: 'ready' })
    const approved = (await images.findById(id))?.etag

    await overwrite(id, new TextEncoder().encode('<html><script>alert(1)</script>'))
    expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason: 'replaced' })
    expect(await images.findById(id)).toMatchObject({ status: 'failed', failureReason: 'replaced', etag: approved })
    expect(await stored(id)).toBeNull()
    // A duplicate of that event: the record is failed, its object deleted again.
    expect(await validate(ctx, id)).toEqual({ outcome: 'skipped', status: 'failed' })
  })

  it('leaves a ready image whose object is still the approved one alone', async () => {
    const id = await pendingRecord()
    await put(id, png)
    expect(await validate(ctx, id)).toMatchObject({ outcome: 'ready' })
    expect(await validate(ctx, id)).toEqual({ outcome: 'skipped', status: 'ready' })
    expect(await stored(id)).toMatchObject({ sizeBytes: png.length })
  })
})
