import { describe, expect, it } from 'vitest'
import { userContext } from '../../../shared/identity/request-context.ts'
import { type ImageId, ImageNotFoundError, newImageId } from '../../../shared/image/image.ts'
import { InMemoryImageRepository } from '../../../shared/image/testing/in-memory-image-repository.ts'
import { InMemoryImageStorage } from '../testing/in-memory-image-storage.ts'
import type { CdnInvalidator } from './cdn-invalidator.ts'
import { createDeleteImage } from './delete-image.ts'
import { getImageStatus } from './get-image-status.ts'
import { createListImages } from './list-images.ts'

const alice = userContext('alice')
const bob = userContext('bob')
const admin = userContext('root', { admin: true })

class RecordingInvalidator implements CdnInvalidator {
  readonly paths: string[] = []
  async invalidate(paths: readonly string[]) {
    this.paths.push(...paths)
  }
}

function setup() {
  const images = new InMemoryImageRepository()
  const storage = new InMemoryImageStorage()
  const cdn = new RecordingInvalidator()
  return {
    images,
    storage,
    cdn,
    remove: createDeleteImage({ images, storage, cdn }),
    status: getImageStatus({ images }),
    list: createListImages({ images }),
  }
}

describe('another owner sees nothing', () => {
  it('answers the status of an image to its owner and an admin, and not-found to anyone else', async () => {
    const { images, status } = setup()
    const id = newImageId()
    images.add(id, 'ready', 'alice')
    await expect(status(alice, id)).resolves.toMatchObject({ id, ownerId: 'alice' })
    await expect(status(admin, id)).resolves.toMatchObject({ id })
    const stranger = await status(bob, id).catch((e: unknown) => e)
    const missing = await status(bob, newImageId()).catch((e: unknown) => e)
    expect(stranger).toBeInstanceOf(ImageNotFoundError)
    expect(missing).toBeInstanceOf(ImageNotFoundError)
  })

  it('lists only the caller own images, and another owner only for an admin', async () => {
    const { images, list } = setup()
    const [a1, b1] = [newImageId(), newImageId()]
    images.add(a1, 'ready', 'alice').add(b1, 'ready', 'bob')
    expect((await list(alice, {})).items.map((i) => i.id)).toEqual([a1])
    expect((await list(bob, {})).items.map((i) => i.id)).toEqual([b1])
    await expect(list(bob, { ownerId: 'alice' })).rejects.toMatchObject({ code: 'FORBIDDEN' })
    expect((await list(admin, { ownerId: 'alice' })).items.map((i) => i.id)).toEqual([a1])
  })
})

describe('createListImages', () => {
  it('pages newest first with an opaque cursor, and refuses a forged one or a bad limit', async () => {
    const { images, list } = setup()
    const ids: ImageId[] = []
    for (let i = 0; i < 5; i++) {
      const id = newImageId()
      ids.push(id)
      images.add(id, 'ready', 'alice')
    }
    const newestFirst = [...ids].sort().reverse()
    const first = await list(alice, { limit: 2 })
    expect(first.items.map((i) => i.id)).toEqual(newestFirst.slice(0, 2))
    const second = await list(alice, { limit: 2, cursor: first.nextCursor ?? undefined })
    expect(second.items.map((i) => i.id)).toEqual(newestFirst.slice(2, 4))
    const last = await list(alice, { limit: 2, cursor: second.nextCursor ?? undefined })
    expect(last.items.map((i) => i.id)).toEqual(newestFirst.slice(4))
    expect(last.nextCursor).toBeNull()
    await expect(list(alice, { cursor: 'bm90LWFuLWlk' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' })
    await expect(list(alice, { limit: 0 })).rejects.toMatchObject({ code: 'INVALID_LIMIT' })
    await expect(list(alice, { limit: 101 })).rejects.toMatchObject({ code: 'INVALID_LIMIT' })
  })

  it('leaves deleted images out unless asked for by status', async () => {
    const { images, list } = setup()
    const [kept, gone] = [newImageId(), newImageId()]
    images.add(kept, 'ready', 'alice').add(gone, 'deleted', 'alice')
    expect((await list(alice, {})).items.map((i) => i.id)).toEqual([kept])
    expect((await list(alice, { status: 'deleted' })).items.map((i) => i.id)).toEqual([gone])
  })
})

describe('createDeleteImage', () => {
  it('marks the record deleted, removes the object and its variants and invalidates the CDN copies; again is the same', async () => {
    const { images, storage, cdn, remove, status } = setup()
    const id = newImageId()
    const other = newImageId()
    images.add(id, 'ready', 'alice')
    storage.put(`uploads/${id}`, new Uint8Array([1, 2, 3]), { contentType: 'image/png' })
    storage.put(`variants/${id}/thumbnail.webp`, new Uint8Array([4]), { contentType: 'image/webp' })
    storage.put(`variants/${id}/large.avif`, new Uint8Array([5]), { contentType: 'image/avif' })
    storage.put(`variants/${other}/thumbnail.webp`, new Uint8Array([6]), { contentType: 'image/webp' })
    await remove(alice, id)
    expect((await status(alice, id)).status).toBe('deleted')
    expect(storage.objects.has(`uploads/${id}`)).toBe(false)
    expect(storage.keysUnder(`variants/${id}/`)).toEqual([])
    expect(storage.keysUnder('variants/')).toEqual([`variants/${other}/thumbnail.webp`])
    expect(cdn.paths).toEqual([`/uploads/${id}`, `/variants/${id}/*`])
    await expect(remove(alice, id)).resolves.toBeUndefined()
    expect(cdn.paths).toHaveLength(4)
  })

  it('lets neither another owner nor an admin delete: 404, and nothing changes', async () => {
    const { images, storage, cdn, remove, status } = setup()
    const id = newImageId()
    images.add(id, 'ready', 'alice')
    storage.put(`uploads/${id}`, new Uint8Array([1]), { contentType: 'image/png' })
    await expect(remove(bob, id)).rejects.toBeInstanceOf(ImageNotFoundError)
    await expect(remove(admin, id)).rejects.toBeInstanceOf(ImageNotFoundError)
    expect((await status(alice, id)).status).toBe('ready')
    expect(storage.objects.has(`uploads/${id}`)).toBe(true)
    expect(cdn.paths).toEqual([])
  })
})
