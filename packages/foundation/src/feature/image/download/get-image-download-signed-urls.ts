import type { AuditLog } from '../../../shared/audit/audit.ts'
import { type RequestContext, requireUser } from '../../../shared/identity/request-context.ts'
import type { ImageId } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { parseDownloadRequest, selectDownload } from './download-selection.ts'
import type { DownloadOptions, ImageAccess, ImageAccessBatch } from './image-access.ts'
import type { ImageCdn } from './image-cdn.ts'
import { ServeError } from './serve-error.ts'

export const MAX_IDS_PER_BATCH = 50

/**
 * Query: signed download URLs for up to 50 images with ONE repository call, all for the same
 * `variant` and `format` (with `auto`, each image gets the best of its own generated formats).
 * Ids arrive parsed (the edge refuses the whole request for one malformed id), are
 * deduplicated, and both result lists keep the order in which ids first appeared; an image
 * without the variant is `not_found` like a missing one. A request that signs anything is one
 * download.signed audit row listing the signed ids (queued, not one row per URL).
 */
export function createGetImageDownloadSignedUrls(deps: { images: ImageRepository; cdn: ImageCdn; audit?: AuditLog }) {
  return async (ctx: RequestContext, query: { imageIds: readonly ImageId[] } & DownloadOptions): Promise<ImageAccessBatch> => {
    // Only the owner signs: another owner's id is `not_found`, like a missing one (an admin reads, never signs).
    const { ownerId } = requireUser(ctx)
    // The bound applies to the request as sent: it caps the work a single call can ask for.
    if (query.imageIds.length === 0) throw ServeError.emptyIdList()
    if (query.imageIds.length > MAX_IDS_PER_BATCH) throw ServeError.tooManyIds(query.imageIds.length, MAX_IDS_PER_BATCH)
    const request = parseDownloadRequest(query)
    const ids = [...new Set(query.imageIds)]

    const records = new Map((await deps.images.findOwnedByIds(ownerId, ids)).map((r) => [r.id, r]))
    const notFound: ImageId[] = []
    const pending: Promise<ImageAccess>[] = []
    for (const imageId of ids) {
      const record = records.get(imageId)
      const selection = record?.status === 'ready' ? selectDownload(record, request, query.accept) : undefined
      if (selection === undefined) {
        notFound.push(imageId)
        continue
      }
      const { variant, format, negotiated } = selection
      pending.push(
        deps.cdn
          .signDownloadUrl(selection.objectKey)
          .then((s) => ({ imageId, variant, format, downloadUrl: s.url, expiresAt: s.expiresAt, negotiated })),
      )
    }
    const items = await Promise.all(pending)
    if (items.length > 0) {
      deps.audit?.record(ctx, {
        action: 'download.signed',
        ownerId,
        imageId: null,
        detail: { image_ids: items.map((i) => i.imageId), variant: request.variant },
      })
    }
    return { items, notFound }
  }
}

export type GetImageDownloadSignedUrls = ReturnType<typeof createGetImageDownloadSignedUrls>
