import { parseImageId } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import type { ImageAccess } from './image-access.ts'
import type { ImageCdn } from './image-cdn.ts'
import { ServeError } from './serve-error.ts'

/** Query: a signed download URL for one image, issued only when the image is `ready`. */
export function createGetImageDownloadSignedUrl(deps: { images: ImageRepository; cdn: ImageCdn }) {
  return async (query: { imageId: string }): Promise<ImageAccess> => {
    const imageId = parseImageId(query.imageId)
    const record = await deps.images.findById(imageId)
    if (record === null || record.status !== 'ready') throw ServeError.notFound(imageId)
    const signed = await deps.cdn.signDownloadUrl(record.objectKey)
    return { imageId, downloadUrl: signed.url, expiresAt: signed.expiresAt }
  }
}

export type GetImageDownloadSignedUrl = ReturnType<typeof createGetImageDownloadSignedUrl>
