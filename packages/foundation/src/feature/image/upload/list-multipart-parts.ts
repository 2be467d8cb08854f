import type { RequestContext } from '../../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { type ImageId, ImageNotFoundError } from '../../../shared/image/image.ts'
import type { PresignedPart } from './create-multipart-upload.ts'
import { MultipartError } from './multipart-errors.ts'
import { planParts } from './multipart-plan.ts'
import type { MultipartStorage, StoredPart } from './multipart-storage.ts'
import type { MultipartUploads } from './multipart-uploads.ts'
import { ownedOpenMultipart } from './owned-multipart.ts'

export type MultipartProgress = {
  imageId: ImageId
  uploadId: string
  /** What storage holds (ListParts), the authority on what a resumed upload still needs. */
  parts: StoredPart[]
  /** Every planned part storage does not hold, with a fresh URL. */
  missing: PresignedPart[]
  expiresAt: Date
}

/**
 * Query (resume after a reload): the parts storage already holds and fresh URLs for the
 * others. Handing out URLs moves the upload's expiry to theirs, so a client that keeps
 * resuming is not swept as abandoned.
 */
export function createListMultipartParts(deps: {
  images: ImageRepository
  storage: MultipartStorage
  uploads: MultipartUploads
  multipartUrlTtlSeconds: number
  now?: () => Date
}) {
  const now = deps.now ?? (() => new Date())
  return async (ctx: RequestContext, imageId: ImageId): Promise<MultipartProgress> => {
    const { record, upload } = await ownedOpenMultipart(deps, ctx, imageId)
    const stored = await deps.storage.listParts({ objectKey: record.objectKey, uploadId: upload.uploadId })
    if (stored === null) throw new ImageNotFoundError(imageId, 'has no multipart upload in storage any more')
    const planned = planParts(upload.sizeBytes, upload.partSize)
    // A part is held when storage has it at its planned size (a signed length allows no other).
    const held = new Set(stored.filter((p) => planned[p.partNumber - 1]?.sizeBytes === p.sizeBytes).map((p) => p.partNumber))
    const ttl = deps.multipartUrlTtlSeconds
    const expiresAt = new Date(now().getTime() + ttl * 1000)
    const missing = await Promise.all(
      planned
        .filter((part) => !held.has(part.partNumber))
        .map(async (part) => ({
          ...part,
          uploadUrl: await deps.storage.presignPart({
            objectKey: record.objectKey,
            uploadId: upload.uploadId,
            ...part,
            expiresInSeconds: ttl,
          }),
        })),
    )
    if (missing.length > 0) await deps.uploads.extend(imageId, expiresAt)
    if (missing.length === 0 && stored.length === 0) throw new MultipartError('UPLOAD_FINISHED', `image ${imageId} has no parts to upload`)
    return { imageId, uploadId: upload.uploadId, parts: stored, missing, expiresAt }
  }
}

export type ListMultipartParts = ReturnType<typeof createListMultipartParts>
