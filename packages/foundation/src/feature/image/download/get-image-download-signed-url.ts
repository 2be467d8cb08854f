import type { AuditLog } from '../../../shared/audit/audit.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import { ownedBy } from '../../../shared/image/ownership.ts'
import { type ImageId, ImageNotFoundError } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import type { ImageAccess } from './image-access.ts'
import type { ImageCdn } from './image-cdn.ts'

/**
 * Query: a signed download URL for one image, issued only when the image is `ready`. Each
 * signing is one download.signed audit row (queued: it costs the request no round trip).
 */
export function createGetImageDownloadSignedUrl(deps: { images: ImageRepository; cdn: ImageCdn; audit?: AuditLog }) {
  return async (ctx: RequestContext, query: { imageId: ImageId }): Promise<ImageAccess> => {
    const { imageId } = query
    const record = await deps.images.findById(imageId)
    if (record === null || !ownedBy(ctx.actor, record) || record.status !== 'ready')
      throw new ImageNotFoundError(imageId, 'does not exist or is not ready')
    const signed = await deps.cdn.signDownloadUrl(record.objectKey)
    deps.audit?.record(ctx, { action: 'download.signed', ownerId: record.ownerId, imageId, detail: { image_ids: [imageId] } })
    return { imageId, downloadUrl: signed.url, expiresAt: signed.expiresAt }
  }
}

export type GetImageDownloadSignedUrl = ReturnType<typeof createGetImageDownloadSignedUrl>
