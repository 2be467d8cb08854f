import type { RequestContext } from '../../../shared/identity/request-context.ts'
import { ownedBy } from '../../../shared/image/ownership.ts'
import { type ImageId, ImageNotFoundError } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import type { ImageAccess } from './image-access.ts'
import type { ImageCdn } from './image-cdn.ts'

/** Query: a signed download URL for one image, issued only when the image is `ready`. */
export function createGetImageDownloadSignedUrl(deps: { images: ImageRepository; cdn: ImageCdn }) {
  return async (ctx: RequestContext, query: { imageId: ImageId }): Promise<ImageAccess> => {
    const { imageId } = query
    const record = await deps.images.findById(imageId)
    if (record === null || !ownedBy(ctx.actor, record) || record.status !== 'ready') throw new ImageNotFoundError(imageId, 'does not exist or is not ready')
    const signed = await deps.cdn.signDownloadUrl(record.objectKey)
    return { imageId, downloadUrl: signed.url, expiresAt: signed.expiresAt }
  }
}

export type GetImageDownloadSignedUrl = ReturnType<typeof createGetImageDownloadSignedUrl>
