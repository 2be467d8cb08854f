import { userContext } from '../../../shared/identity/request-context.ts'
import { describe, expect, it } from 'vitest'
import { type ImageId, ImageNotFoundError, newImageId } from '../../../shared/image/image.ts'
import { createGetImageDownloadSignedUrl } from './get-image-download-signed-url.ts'
import { createGetImageDownloadSignedUrls } from './get-image-download-signed-urls.ts'
import { ServeError } from './serve-error.ts'
import { InMemoryImageRepository } from '../../../shared/image/testing/in-memory-image-repository.ts'
import { FakeImageCdn } from './testing/fakes.ts'

const ctx = userContext('owner-a', { requestId: 'spec-request' })

function setup() {
  const images = new InMemoryImageRepository()
  const cdn = new FakeImageCdn()
  return {
    images,
    cdn,
    getOne: createGetImageDownloadSignedUrl({ images, cdn }),
    getMany: createGetImageDownloadSignedUrls({ images, cdn }),
  }
}

const ids = (n: number): ImageId[] => Array.from({ length: n }, () => newImageId())

describe('createGetImageDownloadSignedUrl', () => {
  it('signs the object key of a ready image', async () => {
    const { images, cdn, getOne } = setup()
    const [id] = ids(1) as [ImageId]
    images.add(id, 'ready')
    await expect(getOne(ctx, { imageId: id })).resolves.toEqual({
      imageId: id,
      variant: 'original',
      format: 'png',
      downloadUrl: `https://cdn.test/uploads/${id}?sig=1`,
      expiresAt: cdn.expiresAt,
      negotiated: false,
    })
  })

  it.each(['pending', 'failed'] as const)('reports a %s image as not found', async (status) => {
    const { images, getOne } = setup()
    const [id] = ids(1) as [ImageId]
    images.add(id, status)
    const error = await getOne(ctx, { imageId: id }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ImageNotFoundError)
    expect(error).toMatchObject({ kind: 'not_found', code: 'IMAGE_NOT_FOUND' })
  })

  it('reports a missing image as not found', async () => {
    const { getOne } = setup()
    await expect(getOne(ctx, { imageId: newImageId() })).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' })
  })
})

describe('createGetImageDownloadSignedUrls', () => {
  it('splits a mixed batch with duplicates, keeping first-appearance order in both lists', async () => {
    const { images, getMany } = setup()
    const [ready1, pending, ready2, failed, missing] = ids(5) as [ImageId, ImageId, ImageId, ImageId, ImageId]
    images.add(ready1, 'ready').add(pending, 'pending').add(ready2, 'ready').add(failed, 'failed')

    const result = await getMany(ctx, { imageIds: [missing, ready2, pending, ready1, ready2, failed, missing, ready1] })

    expect(result.items.map((i) => i.imageId)).toEqual([ready2, ready1])
    expect(result.items[0]?.downloadUrl).toBe(`https://cdn.test/uploads/${ready2}?sig=1`)
    expect(result.notFound).toEqual([missing, pending, failed])
    expect(images.findByIdsCalls).toEqual([[missing, ready2, pending, ready1, failed]])
  })

  it('rejects an empty list', async () => {
    const { images, getMany } = setup()
    const error = await getMany(ctx, { imageIds: [] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServeError)
    expect(error).toMatchObject({ kind: 'invalid', code: 'EMPTY_ID_LIST' })
    expect(images.findByIdsCalls).toHaveLength(0)
  })

  it('rejects 51 ids', async () => {
    const { images, getMany } = setup()
    await expect(getMany(ctx, { imageIds: ids(51) })).rejects.toMatchObject({ kind: 'invalid', code: 'TOO_MANY_IDS' })
    expect(images.findByIdsCalls).toHaveLength(0)
  })

  it('accepts exactly 50 ids with one repository call', async () => {
    const { images, getMany } = setup()
    const batch = ids(50)
    for (const id of batch) images.add(id, 'ready')
    const result = await getMany(ctx, { imageIds: batch })
    expect(result.items.map((i) => i.imageId)).toEqual(batch)
    expect(result.notFound).toEqual([])
    expect(images.findByIdsCalls).toHaveLength(1)
  })
})
