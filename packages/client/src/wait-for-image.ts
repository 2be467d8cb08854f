import type { ImageServiceClient } from './client.ts'
import { ImageFailedError, unwrap } from './errors.ts'
import { type WaitOptions, waitForFinal } from './follow.ts'
import type { Image } from './types.ts'

/**
 * Resolves with the Image once it is `ready`; rejects with an ImageFailedError (carrying
 * `failureReason`) once it is `failed` or `deleted`, or with the ImageServiceError of the
 * status route (404 `IMAGE_NOT_FOUND` for an id that is not the caller's).
 */
export async function waitForImage(client: ImageServiceClient, imageId: string, options: WaitOptions = {}): Promise<Image> {
  const image = await waitForFinal(
    client,
    {
      subjectId: imageId,
      read: async (signal) =>
        unwrap(await client.GET('/api/image/v1/images/{image_id}', { params: { path: { image_id: imageId } }, signal })),
      isFinal: (state) => state.status !== 'pending',
    },
    options,
  )
  if (image.status === 'failed' || image.status === 'deleted') throw new ImageFailedError({ ...image, status: image.status })
  return image
}
