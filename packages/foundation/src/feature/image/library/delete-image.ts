import type { Logger } from '../../../common/logger.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import { type ImageId, ImageNotFoundError } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { ownedBy } from '../../../shared/image/ownership.ts'
import type { UploadStorage } from '../upload/upload-storage.ts'
import type { CdnInvalidator } from './cdn-invalidator.ts'

/** The part of the api's storage port a delete needs. */
export type DeletableStorage = Pick<UploadStorage, 'deleteObject' | 'deleteVariants'>

/**
 * Command: the owner deletes an image. Order: the record turns `deleted` first, so nothing
 * signs a URL for it from then on (and an S3 event arriving later deletes the object
 * again); then the object and its variants go; then the CDN forgets its cached copies. Deleting again
 * redoes the last two steps, so a delete cut short by an outage is finished by a retry
 * (204 again), never left half done.
 */
export function createDeleteImage(deps: { images: ImageRepository; storage: DeletableStorage; cdn: CdnInvalidator; log?: Logger }) {
  return async (ctx: RequestContext, imageId: ImageId): Promise<void> => {
    const record = await deps.images.findById(imageId)
    // An admin reads every owner's images but never deletes them: 404, as for a stranger.
    if (record === null || !ownedBy(ctx.actor, record)) throw new ImageNotFoundError(imageId)
    const deleted = await deps.images.markDeleted(imageId, ctx)
    await deps.storage.deleteObject(record.objectKey)
    await deps.storage.deleteVariants(imageId)
    await deps.cdn.invalidate([`/${record.objectKey}`, `/variants/${imageId}/*`])
    deps.log?.info({ imageId, requestId: ctx.requestId, again: deleted === null }, 'image deleted')
  }
}

export type DeleteImage = ReturnType<typeof createDeleteImage>
