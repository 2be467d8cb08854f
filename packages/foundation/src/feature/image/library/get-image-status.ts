import type { RequestContext } from '../../../shared/identity/request-context.ts'
import { type ImageId, ImageNotFoundError, type ImageRecord } from '../../../shared/image/image.ts'
import { readableBy } from '../../../shared/image/ownership.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'

export type GetImageStatus = (ctx: RequestContext, imageId: ImageId) => Promise<ImageRecord>

/** The record of one upload, whatever its status, for its owner (or an admin); anyone else gets ImageNotFoundError. */
export function getImageStatus(deps: { images: ImageRepository }): GetImageStatus {
  return async (ctx, imageId) => {
    const record = await deps.images.findById(imageId)
    if (record === null || !readableBy(ctx.actor, record)) throw new ImageNotFoundError(imageId)
    return record
  }
}
