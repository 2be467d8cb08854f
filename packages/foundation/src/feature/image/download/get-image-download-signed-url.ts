import type { AuditLog } from '../../../shared/audit/audit.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import { ownedBy } from '../../../shared/image/ownership.ts'
import { type ImageId, ImageNotFoundError } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { parseDownloadRequest, selectDownload, VariantNotFoundError } from './download-selection.ts'
import type { DownloadOptions, ImageAccess } from './image-access.ts'
import type { ImageCdn } from './image-cdn.ts'

/**
 * Query: a signed download URL for one image's original or variant, issued only when the
 * image is `ready`. A missing, unready or foreign image is IMAGE_NOT_FOUND before the
 * variant is looked at; only then is a missing variant or format VARIANT_NOT_FOUND. Each
 * signing is one download.signed audit row (queued: it costs the request no round trip).
 */
export function createGetImageDownloadSignedUrl(deps: { images: ImageRepository; cdn: ImageCdn; audit?: AuditLog }) {
  return async (ctx: RequestContext, query: { imageId: ImageId } & DownloadOptions): Promise<ImageAccess> => {
    const { imageId } = query
    const request = parseDownloadRequest(query)
    const record = await deps.images.findById(imageId)
    if (record === null || !ownedBy(ctx.actor, record) || record.status !== 'ready')
      throw new ImageNotFoundError(imageId, 'does not exist or is not ready')
    const selection = selectDownload(record, request, query.accept)
    if (selection === undefined) throw new VariantNotFoundError(imageId, request)
    const signed = await deps.cdn.signDownloadUrl(selection.objectKey)
    deps.audit?.record(ctx, {
      action: 'download.signed',
      ownerId: record.ownerId,
      imageId,
      detail: { image_ids: [imageId], variant: selection.variant },
    })
    return {
      imageId,
      variant: selection.variant,
      format: selection.format,
      downloadUrl: signed.url,
      expiresAt: signed.expiresAt,
      negotiated: selection.negotiated,
    }
  }
}

export type GetImageDownloadSignedUrl = ReturnType<typeof createGetImageDownloadSignedUrl>
