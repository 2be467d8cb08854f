import { userContext } from '../../../shared/identity/request-context.ts'
import { describe, expect, it } from 'vitest'
import { newImageId } from '../../../shared/image/image.ts'
import { ImageNotFoundError } from '../../../shared/image/image.ts'
import { getImageStatus } from './get-image-status.ts'
import { InMemoryImageRepository } from '../../../shared/image/testing/in-memory-image-repository.ts'

const ctx = userContext('owner-a', { requestId: 'spec-request' })

describe('getImageStatus', () => {
  it('returns the record', async () => {
    const images = new InMemoryImageRepository()
    const id = newImageId()
    await images.save({ id, ownerId: 'owner-a', contentType: 'image/avif', fileName: 'a.avif', objectKey: `uploads/${id}` })
    const record = await getImageStatus({ images })(ctx, id)
    expect(record).toMatchObject({ id, status: 'pending', sizeBytes: null, fileName: 'a.avif' })
  })

  it('throws a not-found error for an unknown id', async () => {
    const id = newImageId()
    const error = await getImageStatus({ images: new InMemoryImageRepository() })(ctx, id).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ImageNotFoundError)
    expect(error).toMatchObject({ kind: 'not_found', code: 'IMAGE_NOT_FOUND' })
  })
})
