import { systemContext } from '../../../shared/identity/request-context.ts'
import { TEST_IMAGE_LIMITS as limits } from '@image-service/devstack/corpus'
import sharp from 'sharp'
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { DependencyUnavailableError } from '../../../common/errors.ts'
import { type ImageContentType, type ImageId, newImageId, objectKeyFor } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { InMemoryImageRepository } from '../../../shared/image/testing/in-memory-image-repository.ts'
import { etagOf, InMemoryImageStorage } from '../testing/in-memory-image-storage.ts'
import { specImageVariants } from '../variants/testing/spec-variants.ts'
import { createValidateImage } from './validate-image.ts'
import type { ValidationStorage } from './validation-storage.ts'

const ctx = systemContext('spec', 'spec-request')

/** The same bucket seen through `overrides`: another worker's view of it, or a failing one. */
function storageView(storage: InMemoryImageStorage, overrides: Partial<ValidationStorage>): ValidationStorage {
  return {
    getObjectMetadata: (key) => storage.getObjectMetadata(key),
    readObjectStart: (key, read) => storage.readObjectStart(key, read),
    readObject: (key, read) => storage.readObject(key, read),
    deleteObject: (key) => storage.deleteObject(key),
    ...overrides,
  }
}

let png: Uint8Array
beforeAll(async () => {
  png = new Uint8Array(
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366aa' } })
      .png()
      .toBuffer(),
  )
})

describe('createValidateImage', () => {
  let images: InMemoryImageRepository
  let storage: InMemoryImageStorage
  let validate: ReturnType<typeof createValidateImage>

  beforeEach(() => {
    images = new InMemoryImageRepository()
    storage = new InMemoryImageStorage()
    validate = createValidateImage({ images, storage, variants: specImageVariants(storage, limits), limits })
  })

  async function upload(contentType: ImageContentType, bytes: Uint8Array | null): Promise<ImageId> {
    const id = newImageId()
    await images.save({ id, ownerId: 'owner-a', contentType, fileName: 'photo', objectKey: objectKeyFor(id) })
    if (bytes !== null) storage.objects.set(objectKeyFor(id), bytes)
    return id
  }

  it('marks a valid image ready with its real size and keeps the object', async () => {
    const id = await upload('image/png', png)
    expect(await validate(ctx, id)).toEqual({ outcome: 'ready', sizeBytes: png.length })
    expect(await images.findById(id)).toMatchObject({ status: 'ready', sizeBytes: png.length, failureReason: null, etag: etagOf(png) })
    expect(storage.objects.has(objectKeyFor(id))).toBe(true)
  })

  it('accepts exactly maxUploadBytes but fails one byte more as too_large, deleting the object', async () => {
    const small = createValidateImage({
      images,
      storage,
      variants: specImageVariants(storage, limits),
      limits: { ...limits, maxUploadBytes: png.length },
    })
    const exact = await upload('image/png', png)
    expect(await small(ctx, exact)).toMatchObject({ outcome: 'ready' })

    const over = await upload('image/png', new Uint8Array([...png, 0]))
    expect(await small(ctx, over)).toEqual({ outcome: 'failed', reason: 'too_large' })
    expect(storage.deleted).toEqual([objectKeyFor(over)])
    // Judged from the first ranged read (its size), never read whole.
    expect(storage.reads.filter((r) => r.key === objectKeyFor(over)).map((r) => r.kind)).toEqual(['head'])
    expect(await images.findById(over)).toMatchObject({ status: 'failed', failureReason: 'too_large' })
  })

  it.each([
    ['PNG bytes declared image/jpeg', 'image/jpeg', () => png, 'type_mismatch'],
    ['HTML declared image/png', 'image/png', () => new TextEncoder().encode('<!doctype html><script>alert(1)</script>'), 'not_an_image'],
    ['an empty object', 'image/webp', () => new Uint8Array(), 'not_an_image'],
    ['a PNG cut before IEND', 'image/png', () => png.subarray(0, png.length - 12), 'truncated'],
  ] as const)('fails %s', async (_name, contentType, bytes, reason) => {
    const id = await upload(contentType, bytes())
    expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason })
    expect(storage.objects.has(objectKeyFor(id))).toBe(false)
    expect(await images.findById(id)).toMatchObject({ status: 'failed', failureReason: reason })
  })

  it.each([
    ['content-disposition', 'attachment; filename=x.html'],
    ['content-encoding', 'gzip'],
    ['cache-control', 'public, max-age=31536000'],
    ['content-language', 'en'],
    ['expires', 'Thu, 01 Jan 2099 00:00:00 GMT'],
  ] as const)('fails an object stored with %s as unexpected_headers, reading no more than the head', async (name, value) => {
    const id = await upload('image/png', null)
    storage.put(objectKeyFor(id), png, { contentType: 'image/png', headers: { [name]: value } })
    expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason: 'unexpected_headers' })
    expect(storage.objects.has(objectKeyFor(id))).toBe(false)
    expect(storage.reads.map((r) => r.kind)).toEqual(['head'])
    expect(await images.findById(id)).toMatchObject({ status: 'failed', failureReason: 'unexpected_headers' })
  })

  it.each(['no-cache', 'max-age=0'])('accepts Cache-Control: %s, which clients add to a conditional PUT themselves', async (value) => {
    const id = await upload('image/png', null)
    storage.put(objectKeyFor(id), png, { contentType: 'image/png', headers: { 'cache-control': value } })
    expect(await validate(ctx, id)).toMatchObject({ outcome: 'ready' })
  })

  it('fails a record whose object never arrived as missing_object', async () => {
    const id = await upload('image/gif', null)
    expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason: 'missing_object' })
    expect(await images.findById(id)).toMatchObject({ status: 'failed', failureReason: 'missing_object' })
  })

  it('asks for a retry when the record is missing, touching nothing', async () => {
    const id = newImageId()
    storage.objects.set(objectKeyFor(id), png)
    expect(await validate(ctx, id)).toEqual({ outcome: 'retry', reason: 'IMAGE_RECORD_NOT_FOUND' })
    expect(storage.objects.has(objectKeyFor(id))).toBe(true)
    expect(storage.deleted).toEqual([])
  })

  it.each(['ready', 'failed'] as const)('skips a record that is already %s, leaving the record and reading nothing', async (status) => {
    const id = await upload('image/png', png)
    await images.transitionFromPending(
      id,
      status === 'ready' ? { status, sizeBytes: 1, etag: etagOf(png) } : { status, failureReason: 'corrupt' },
    )
    const before = { ...(await images.findById(id)) }
    const transitions = images.transitions

    expect(await validate(ctx, id)).toEqual({ outcome: 'skipped', status })
    expect(await images.findById(id)).toEqual(before)
    expect(images.transitions).toBe(transitions)
    expect(storage.reads).toEqual([])
    expect(storage.deleted).toEqual(status === 'ready' ? [] : [objectKeyFor(id)])
  })

  it('fails a ready record whose object was replaced as replaced, and deletes the unchecked bytes', async () => {
    const id = await upload('image/png', png)
    expect(await validate(ctx, id)).toMatchObject({ outcome: 'ready' })
    // A store that ignores If-None-Match let the still-valid URL overwrite the approved bytes.
    storage.put(objectKeyFor(id), new TextEncoder().encode('<html><script>alert(1)</script>'), { contentType: 'image/png' })

    expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason: 'replaced' })
    expect(storage.objects.has(objectKeyFor(id))).toBe(false)
    expect(await images.findById(id)).toMatchObject({ status: 'failed', failureReason: 'replaced', etag: etagOf(png) })
    expect(storage.reads.filter((r) => r.kind === 'full')).toEqual([])
  })

  it('leaves a ready record approved before ETags were stored as it is', async () => {
    const id = newImageId()
    images.add(id, 'ready')
    images.records.set(id, { ...images.records.get(id)!, etag: null })
    storage.objects.set(objectKeyFor(id), new Uint8Array([1, 2, 3]))
    expect(await validate(ctx, id)).toEqual({ outcome: 'skipped', status: 'ready' })
    expect(storage.objects.has(objectKeyFor(id))).toBe(true)
  })

  it('deletes bytes uploaded again to a failed record (the URL may still be valid after a rejection)', async () => {
    const id = await upload('image/png', png)
    await images.transitionFromPending(id, { status: 'failed', failureReason: 'corrupt' })
    storage.objects.set(objectKeyFor(id), png)
    expect(await validate(ctx, id)).toEqual({ outcome: 'skipped', status: 'failed' })
    expect(storage.objects.has(objectKeyFor(id))).toBe(false)
    expect(await images.findById(id)).toMatchObject({ status: 'failed', failureReason: 'corrupt' })
  })

  it('deletes bytes that reach a deleted image later (an S3 event after the delete, or a PUT with a URL still valid)', async () => {
    const id = await upload('image/png', png)
    await images.markDeleted(id)
    storage.objects.set(objectKeyFor(id), png)
    expect(await validate(ctx, id)).toEqual({ outcome: 'skipped', status: 'deleted' })
    expect(storage.objects.has(objectKeyFor(id))).toBe(false)
    expect(await images.findById(id)).toMatchObject({ status: 'deleted' })
  })

  it('fails the record before deleting; when the delete fails it asks for a retry, whose delivery deletes', async () => {
    const id = await upload('image/jpeg', png)
    storage.failDeletes = true
    expect(await validate(ctx, id)).toEqual({ outcome: 'retry', reason: 'STORAGE_UNAVAILABLE' })
    expect(await images.findById(id)).toMatchObject({ status: 'failed', failureReason: 'type_mismatch' })

    storage.failDeletes = false
    expect(await validate(ctx, id)).toEqual({ outcome: 'skipped', status: 'failed' })
    expect(storage.objects.has(objectKeyFor(id))).toBe(false)
  })

  it('asks for a retry, changing nothing, while storage or the database is unavailable', async () => {
    const id = await upload('image/png', png)
    const down = new DependencyUnavailableError('STORAGE_UNAVAILABLE', 'storage is down')
    const brokenStorage = storageView(storage, { readObjectStart: () => Promise.reject(down) })
    expect(
      await createValidateImage({ images, storage: brokenStorage, variants: specImageVariants(storage, limits), limits })(ctx, id),
    ).toEqual({
      outcome: 'retry',
      reason: 'STORAGE_UNAVAILABLE',
    })

    const dbDown = new DependencyUnavailableError('DATABASE_UNAVAILABLE', 'database is down')
    const brokenImages: ImageRepository = {
      save: (record) => images.save(record),
      saveWithinQuota: (record, quota) => images.saveWithinQuota(record, quota),
      usageOf: (ownerId) => images.usageOf(ownerId),
      findById: (imageId) => images.findById(imageId),
      findOwnedByIds: (ownerId, ids) => images.findOwnedByIds(ownerId, ids),
      list: (query) => images.list(query),
      markDeleted: (imageId) => images.markDeleted(imageId),
      transitionFromPending: () => Promise.reject(dbDown),
      failReplaced: () => Promise.reject(dbDown),
    }
    expect(
      await createValidateImage({ images: brokenImages, storage, variants: specImageVariants(storage, limits), limits })(ctx, id),
    ).toEqual({
      outcome: 'retry',
      reason: 'DATABASE_UNAVAILABLE',
    })
    expect(await images.findById(id)).toMatchObject({ status: 'pending' })
    expect(storage.objects.has(objectKeyFor(id))).toBe(true)
  })

  it('asks for a retry when the object changes between the first read and the full one, and judges the new version on redelivery', async () => {
    const id = await upload('image/png', png)
    const other = new Uint8Array(await sharp(png).jpeg().toBuffer())
    const swapping = storageView(storage, {
      readObjectStart: async (key, read) => {
        const measured = await storage.readObjectStart(key, { bytes: Math.min(read.bytes, 16) })
        storage.objects.set(key, other) // replaced right after the first read
        return measured
      },
    })
    expect(await createValidateImage({ images, storage: swapping, variants: specImageVariants(storage, limits), limits })(ctx, id)).toEqual(
      {
        outcome: 'retry',
        reason: 'OBJECT_CHANGED',
      },
    )
    expect(await images.findById(id)).toMatchObject({ status: 'pending' })
    expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason: 'type_mismatch' })
  })

  it.each([
    ['libvips out of memory', 'toBuffer', 'vips_tracked: out of memory -- size == 1024MB'],
    [
      'libvips out of memory, reading metadata',
      'metadata',
      'Input buffer has corrupt header: \nvips_malloc: out of memory -- size == 512MB',
    ],
    ['libjpeg out of memory', 'toBuffer', 'VipsJpeg: Insufficient memory (case 4)'],
    ['a loader missing from the build', 'metadata', 'VipsOperation: class "pngload_buffer" not found'],
    ['no temporary file', 'toBuffer', 'vips__file_open_write: unable to open for write'],
    ['no thread', 'toBuffer', 'vips_g_thread_new: unable to create thread'],
    ['too many open files', 'toBuffer', 'unable to open "/tmp/vips-0.v", Too many open files (EMFILE)'],
  ] as const)(
    'asks for a retry, keeping the object and the pending record, when the decoder fails with %s',
    async (_name, step, message) => {
      const id = await upload('image/png', png)
      const decode = vi.spyOn(sharp.prototype, step).mockRejectedValueOnce(new Error(message))
      try {
        expect(await validate(ctx, id)).toEqual({ outcome: 'retry', reason: 'DECODER_UNAVAILABLE' })
        expect(decode).toHaveBeenCalledOnce()
      } finally {
        decode.mockRestore()
      }
      expect(storage.objects.has(objectKeyFor(id))).toBe(true)
      expect(storage.deleted).toEqual([])
      expect(await images.findById(id)).toMatchObject({ status: 'pending', failureReason: null })
      // The same bytes, once the decoder can run again, are judged: here, ready.
      expect(await validate(ctx, id)).toMatchObject({ outcome: 'ready' })
    },
  )

  it('still fails bytes the decoder refuses, however it words it', async () => {
    const id = await upload('image/png', png)
    const decode = vi.spyOn(sharp.prototype, 'toBuffer').mockRejectedValueOnce(new Error('vipspng: libpng read error'))
    try {
      expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason: 'corrupt' })
    } finally {
      decode.mockRestore()
    }
  })

  it('never deletes the bytes of a record a duplicate delivery has just marked ready', async () => {
    // Two deliveries of one event: B's first read does not see the object yet (say it ran before
    // the PUT was visible) and it reaches missing_object while A approves the bytes.
    const id = await upload('image/png', png)
    let releaseB!: () => void
    const bHeld = new Promise<void>((resolve) => {
      releaseB = resolve
    })
    let bAtHead!: () => void
    const bReachedHead = new Promise<void>((resolve) => {
      bAtHead = resolve
    })
    const staleView = storageView(storage, {
      readObjectStart: async () => {
        bAtHead()
        await bHeld
        return null
      },
    })
    const deliveryB = createValidateImage({ images, storage: staleView, variants: specImageVariants(storage, limits), limits })(ctx, id)
    await bReachedHead
    expect(await validate(ctx, id)).toMatchObject({ outcome: 'ready' })
    releaseB()

    expect(await deliveryB).toEqual({ outcome: 'skipped', status: 'ready' })
    expect(await images.findById(id)).toMatchObject({ status: 'ready' })
    expect(storage.objects.has(objectKeyFor(id))).toBe(true)
    expect(storage.deleted).toEqual([])
  })

  it('rejects a decompression bomb from the ranged head read alone', async () => {
    // A real PNG whose IHDR claims 20000x20000 (400 Mpx), padded to look like a big upload.
    const bomb = new Uint8Array(2_000_000)
    bomb.set(png)
    new DataView(bomb.buffer).setUint32(16, 20_000)
    new DataView(bomb.buffer).setUint32(20, 20_000)
    const id = await upload('image/png', bomb)

    expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason: 'too_many_pixels' })
    expect(storage.reads).toEqual([{ key: objectKeyFor(id), kind: 'head', bytes: 4100 }])
  })
})
