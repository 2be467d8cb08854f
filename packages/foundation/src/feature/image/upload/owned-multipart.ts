import type { RequestContext } from '../../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { type ImageId, ImageNotFoundError, type ImageRecord } from '../../../shared/image/image.ts'
import { ownedBy } from '../../../shared/image/ownership.ts'
import { MultipartError } from './multipart-errors.ts'
import type { MultipartUpload, MultipartUploads } from './multipart-uploads.ts'

/**
 * The caller's image and its open multipart upload: another owner's image (an admin's
 * included: they read, never upload) is 404 as a missing one; an image not uploaded in parts
 * is 409 NOT_MULTIPART; a completed or aborted upload, or a record no longer pending, 409
 * UPLOAD_FINISHED.
 */
export async function ownedOpenMultipart(
  deps: { images: ImageRepository; uploads: MultipartUploads },
  ctx: RequestContext,
  imageId: ImageId,
): Promise<{ record: ImageRecord; upload: MultipartUpload }> {
  const record = await deps.images.findById(imageId)
  if (record === null || !ownedBy(ctx.actor, record)) throw new ImageNotFoundError(imageId)
  const upload = await deps.uploads.find(imageId)
  if (upload === null) throw new MultipartError('NOT_MULTIPART', `image ${imageId} was not uploaded in parts`)
  if (upload.completedAt !== null || upload.abortedAt !== null || record.status !== 'pending') {
    const state = upload.completedAt !== null ? 'completed' : upload.abortedAt !== null ? 'aborted' : record.status
    throw new MultipartError('UPLOAD_FINISHED', `the multipart upload of image ${imageId} is ${state}`)
  }
  return { record, upload }
}
