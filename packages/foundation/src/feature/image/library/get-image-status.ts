import { AppError } from '../../../common/errors.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import type { ImageId, ImageRecord } from '../../../shared/image/image.ts'

export class ImageNotFoundError extends AppError {
  declare readonly code: 'IMAGE_NOT_FOUND'

  constructor(imageId: ImageId) {
    super('not_found', 'IMAGE_NOT_FOUND', `image ${imageId} does not exist`)
  }
}

export type GetImageStatus = (imageId: ImageId) => Promise<ImageRecord>

/** The record of one upload, whatever its status; a missing id throws ImageNotFoundError. */
export function getImageStatus(deps: { images: ImageRepository }): GetImageStatus {
  return async (imageId) => {
    const record = await deps.images.findById(imageId)
    if (record === null) throw new ImageNotFoundError(imageId)
    return record
  }
}
