import type { RequestContext } from '../../../shared/identity/request-context.ts'
import { type ImageId, ImageNotFoundError, type ImageRecord } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'

export type GetImageStatus = (ctx: RequestContext, imageId: ImageId) => Promise<ImageRecord>

/** The record of one upload, whatever its status; a missing id throws ImageNotFoundError. */
export function getImageStatus(deps: { images: ImageRepository }): GetImageStatus {
  return async (_ctx, imageId) => {
    const record = await deps.images.findById(imageId)
    if (record === null) throw new ImageNotFoundError(imageId)
    return record
  }
}
