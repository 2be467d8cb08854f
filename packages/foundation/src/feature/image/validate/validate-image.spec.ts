import { systemContext } from '../../../shared/identity/request-context.ts'
import { TEST_IMAGE_LIMITS as limits } from '@image-service/devstack/corpus'
import sharp from 'sharp'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { AppError, DependencyUnavailableError } from '../../../common/errors.ts'
import { type ImageContentType, type ImageId, newImageId, objectKeyFor } from '../../../shared/image/image.ts'
import { InMemoryImageRepository } from '../../../shared/image/testing/in-memory-image-repository.ts'
import { etagOf, InMemoryImageStorage } from '../testing/in-memory-image-storage.ts'
import { createValidateImage } from './validate-image.ts'

const ctx = systemContext('spec', 'spec-request')

let png: Uint8Array
beforeAll(async () => {
  png = new Uint8Array(await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366aa' } }).png().toBuffer())
})

describe('createValidateImage', () => {
  let images: InMemoryImageRepository
  let storage: InMemoryImageStorage
  let validate: ReturnType<typeof createValidateImage>

  beforeEach(() => {
    images = new InMemoryImageRepository()
    storage = new InMemoryImageStorage()
    validate = createValidateImage({ images, storage, limits })
  })

  async function upload(contentType: ImageContentType, bytes: Uint8Array | null): Promise<ImageId> {
    const id = newImageId()
    await images.save({ id, contentType, fileName: 'photo', objectKey: objectKeyFor(id) })
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
    const small = createValidateImage({ images, storage, limits: { ...limits, maxUploadBytes: png.length } })
    const exact = await upload('image/png', png)
    expect(await small(ctx, exact)).toMatchObject({ outcome: 'ready' })

    const over = await upload('image/png', new Uint8Array([...png, 0]))
    expect(await small(ctx, over)).toEqual({ outcome: 'failed', reason: 'too_large' })
    expect(storage.deleted).toEqual([objectKeyFor(over)])
    expect(storage.reads.filter((r) => r.key === objectKeyFor(over))).toEqual([])
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

  it('fails a record whose object never arrived as missing_object', async () => {
    const id = await upload('image/gif', null)
    expect(await validate(ctx, id)).toEqual({ outcome: 'failed', reason: 'missing_object' })
    expect(await images.findById(id)).toMatchObject({ status: 'failed', failureReason: 'missing_object' })
  })

  it('throws a not_found AppError when the record is missing, touching nothing', async () => {
    const id = newImageId()
    storage.objects.set(objectKeyFor(id), png)
    const error = await validate(ctx, id).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AppError)
    expect(error).toMatchObject({ kind: 'not_found', code: 'IMAGE_RECORD_NOT_FOUND' })
    expect(storage.objects.has(objectKeyFor(id))).toBe(true)
  })

  it.each(['ready', 'failed'] as const)('skips a record that is already %s, leaving the record and reading nothing', async (status) => {
    const id = await upload('image/png', png)
    await images.transitionFromPending(id, status === 'ready' ? { status, sizeBytes: 1, etag: etagOf(png) } : { status, failureReason: 'corrupt' })
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

  it('throws and leaves the record pending when the delete of a rejected object fails', async () => {
    const id = await upload('image/jpeg', png)
    storage.failDeletes = true
    await expect(validate(ctx, id)).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(await images.findById(id)).toMatchObject({ status: 'pending', failureReason: null })
    expect(images.transitions).toBe(0)
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
