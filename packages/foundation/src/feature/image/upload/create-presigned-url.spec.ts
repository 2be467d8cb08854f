import { userContext } from '../../../shared/identity/request-context.ts'
import { describe, expect, it } from 'vitest'
import { AppError } from '../../../common/errors.ts'
import { ALLOWED_CONTENT_TYPES, type ImageId, isImageId, newImageId } from '../../../shared/image/image.ts'
import { createImageUploadPresignedUrl } from './create-presigned-url.ts'
import { InMemoryImageRepository } from '../../../shared/image/testing/in-memory-image-repository.ts'
import { InMemoryImageStorage } from '../testing/in-memory-image-storage.ts'
import { UploadError } from './upload-error.ts'

const ctx = userContext('owner-a', { requestId: 'spec-request' })

const MAX_UPLOAD_BYTES = 1000
const roomy = { maxImages: 100, maxBytes: 1_000_000 }

function setup(quota = roomy) {
  const events: string[] = []
  const images = new InMemoryImageRepository(events)
  const storage = new InMemoryImageStorage(events)
  const ids: ImageId[] = []
  const newId = () => {
    const id = newImageId()
    ids.push(id)
    return id
  }
  const create = createImageUploadPresignedUrl({
    images,
    storage,
    newId,
    config: { urlTtlSeconds: 300 },
    quota,
    maxUploadBytes: MAX_UPLOAD_BYTES,
  })
  return { events, images, storage, ids, create }
}

async function rejection(promise: Promise<unknown>): Promise<UploadError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(UploadError)
  return error as UploadError
}

describe('createImageUploadPresignedUrl', () => {
  it('saves a pending record with unknown size and returns the presigned upload', async () => {
    const { images, storage, create } = setup()
    const result = await create(ctx, { contentType: 'image/png', fileName: 'cat.png' })

    expect(isImageId(result.imageId)).toBe(true)
    expect(result.uploadUrl).toBe(`https://storage.test/uploads/${result.imageId}?signature=fake`)
    expect(result.uploadHeaders).toEqual({ 'content-type': 'image/png', 'if-none-match': '*' })
    expect(result.expiresAt).toBeInstanceOf(Date)
    expect(storage.presigned).toEqual([{ objectKey: `uploads/${result.imageId}`, contentType: 'image/png', expiresInSeconds: 300 }])
    expect(images.records.get(result.imageId)).toMatchObject({
      id: result.imageId,
      status: 'pending',
      sizeBytes: null,
      failureReason: null,
      contentType: 'image/png',
      fileName: 'cat.png',
      objectKey: `uploads/${result.imageId}`,
    })
  })

  it('does not return the URL until the record is saved', async () => {
    const { events, images, create } = setup()
    let releaseSave = () => {}
    images.saveGate = new Promise<void>((resolve) => {
      releaseSave = resolve
    })
    let returned = false
    const pending = create(ctx, { contentType: 'image/jpeg', fileName: 'a.jpg' }).then((r) => {
      returned = true
      return r
    })
    // Let every queued microtask run: the command is parked inside save().
    await new Promise<void>((resolve) => setImmediate(resolve))
    expect(returned).toBe(false)
    expect(images.records.size).toBe(0)

    releaseSave()
    const result = await pending
    expect(events).toEqual([`presign:uploads/${result.imageId}`, `save:${result.imageId}`, `saved:${result.imageId}`])
  })

  it('returns no URL when the save fails', async () => {
    const { images, create } = setup()
    images.failSave = new Error('database down')
    await expect(create(ctx, { contentType: 'image/gif', fileName: 'a.gif' })).rejects.toThrow('database down')
    expect(images.records.size).toBe(0)
  })

  it('leaves no record when presigning fails', async () => {
    const { events, images, storage, create } = setup()
    storage.failPresign = new Error('presigner broke')
    await expect(create(ctx, { contentType: 'image/gif', fileName: 'a.gif' })).rejects.toThrow('presigner broke')
    expect(images.records.size).toBe(0)
    expect(events.filter((e) => e.startsWith('save'))).toEqual([])
  })

  it.each(ALLOWED_CONTENT_TYPES)('accepts %s', async (contentType) => {
    const { images, create } = setup()
    const result = await create(ctx, { contentType, fileName: 'x' })
    expect(images.records.get(result.imageId)?.contentType).toBe(contentType)
    expect(result.uploadHeaders['content-type']).toBe(contentType)
  })

  it.each([
    'image/*',
    'image/jpeg;text/html',
    'image/jpeg; charset=utf-8',
    'IMAGE/PNG',
    'Image/png',
    ' image/png',
    'image/png ',
    'image/svg+xml',
    'text/html',
    'application/octet-stream',
    '',
  ])('rejects content type %j before touching storage', async (contentType) => {
    const { events, create } = setup()
    const error = await rejection(create(ctx, { contentType, fileName: 'x.png' }))
    expect(error).toBeInstanceOf(AppError)
    expect(error.kind).toBe('invalid')
    expect(error.code).toBe('INVALID_CONTENT_TYPE')
    expect(events).toEqual([])
  })

  it.each([
    ['empty', ''],
    ['256 characters', 'a'.repeat(256)],
    ['256 code points of astral characters', '😀'.repeat(256)],
    ['NUL', 'a\u0000.png'],
    ['newline', 'a\n.png'],
    ['carriage return', 'a\r.png'],
    ['tab', 'a\t.png'],
    ['unit separator', 'a\u001f.png'],
    ['DEL', 'a\u007f.png'],
  ])('rejects a file name that is %s', async (_label, fileName) => {
    const { events, create } = setup()
    const error = await rejection(create(ctx, { contentType: 'image/png', fileName }))
    expect(error.code).toBe('INVALID_FILE_NAME')
    expect(error.kind).toBe('invalid')
    expect(events).toEqual([])
  })

  it.each([
    ['255 characters', 'a'.repeat(255)],
    ['255 astral code points (510 UTF-16 units)', '😀'.repeat(255)],
    ['unicode', 'Фото — 猫 🐈 café.png'],
    ['a path', '../../x'],
    ['one character', 'x'],
  ])('accepts a file name that is %s, stores it as is and keeps it out of the key', async (_label, fileName) => {
    const { images, storage, ids, create } = setup()
    const result = await create(ctx, { contentType: 'image/webp', fileName })
    const record = images.records.get(result.imageId)
    expect(record?.fileName).toBe(fileName)
    expect(record?.objectKey).toBe(`uploads/${ids[0]}`)
    expect(storage.presigned[0]?.objectKey).toBe(`uploads/${ids[0]}`)
    expect(result.uploadUrl).not.toContain('..')
  })

  it('saves the caller as the owner, with the labels given, never anything else', async () => {
    const { images, create } = labelled()
    const result = await create(ctx, { contentType: 'image/png', fileName: 'card.png', labels: { batch_id: 'b42', record_id: 'r7' } })
    expect(images.records.get(result.imageId)).toMatchObject({ ownerId: 'owner-a', labels: { batch_id: 'b42', record_id: 'r7' } })
  })

  it('refuses bad labels with INVALID_LABELS and saves nothing', async () => {
    const { images, create } = labelled()
    await expect(create(ctx, { contentType: 'image/png', fileName: 'a.png', labels: { 'Bad Key': 'x' } })).rejects.toMatchObject({
      code: 'INVALID_LABELS',
    })
    expect(images.records.size).toBe(0)
  })

  it('refuses an anonymous caller with UNAUTHENTICATED', async () => {
    const { create } = labelled()
    await expect(
      create({ actor: { type: 'anonymous' }, requestId: 'r' }, { contentType: 'image/png', fileName: 'a.png' }),
    ).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    })
  })
})

describe('quota at issuance', () => {
  const png = { contentType: 'image/png', fileName: 'a.png' }

  it('reserves the declared size, or MAX_UPLOAD_BYTES when none was declared, and signs the declared size only', async () => {
    const { create, images, storage } = setup()
    const declared = await create(ctx, { ...png, sizeBytes: 123 })
    const undeclared = await create(ctx, png)
    expect(storage.presigned.map((p) => p.contentLength)).toEqual([123, undefined])
    // Storage refuses any other size for the declared one.
    expect(storage.putPresigned(declared.uploadUrl, declared.uploadHeaders, new Uint8Array(124))).toBe(403)
    expect(storage.putPresigned(declared.uploadUrl, declared.uploadHeaders, new Uint8Array(123))).toBe(200)
    expect((await images.findById(declared.imageId))?.reservedBytes).toBe(123)
    expect((await images.findById(undeclared.imageId))?.reservedBytes).toBe(MAX_UPLOAD_BYTES)
    expect(await images.usageOf('owner-a')).toEqual({ images: 2, bytes: 0, reservedBytes: 123 + MAX_UPLOAD_BYTES })
  })

  it('refuses a declared size above MAX_UPLOAD_BYTES with FILE_TOO_LARGE, and one that is not a positive integer, saving nothing', async () => {
    const { create, images } = setup()
    expect((await rejection(create(ctx, { ...png, sizeBytes: MAX_UPLOAD_BYTES + 1 }))).code).toBe('FILE_TOO_LARGE')
    for (const sizeBytes of [0, -1, 1.5, '10', null]) {
      expect((await rejection(create(ctx, { ...png, sizeBytes }))).code).toBe('INVALID_SIZE_BYTES')
    }
    expect(images.records.size).toBe(0)
    await expect(create(ctx, { ...png, sizeBytes: MAX_UPLOAD_BYTES })).resolves.toMatchObject({ uploadUrl: expect.any(String) })
  })

  it('answers QUOTA_EXCEEDED naming max_images when the image count is full', async () => {
    const { create, images } = setup({ maxImages: 2, maxBytes: 1_000_000 })
    await create(ctx, png)
    await create(ctx, png)
    const error = await create(ctx, png).catch((e: unknown) => e)
    expect(error).toMatchObject({ kind: 'forbidden', code: 'QUOTA_EXCEEDED', message: expect.stringContaining('max_images 2') })
    expect(images.records.size).toBe(2)
  })

  it('answers QUOTA_EXCEEDED naming max_bytes when the reservation does not fit', async () => {
    const { create, images } = setup({ maxImages: 100, maxBytes: 1500 })
    await create(ctx, { ...png, sizeBytes: 1000 })
    await expect(create(ctx, { ...png, sizeBytes: 500 })).resolves.toBeDefined()
    const error = await create(ctx, { ...png, sizeBytes: 1 }).catch((e: unknown) => e)
    expect(error).toMatchObject({ kind: 'forbidden', code: 'QUOTA_EXCEEDED', message: expect.stringContaining('max_bytes 1500') })
    expect(images.records.size).toBe(2)
  })
})

function labelled() {
  const images = new InMemoryImageRepository()
  const create = createImageUploadPresignedUrl({
    images,
    storage: new InMemoryImageStorage(),
    newId: newImageId,
    config: { urlTtlSeconds: 300 },
    quota: roomy,
    maxUploadBytes: MAX_UPLOAD_BYTES,
  })
  return { images, create }
}
