import type { QuotaConfig, UploadConfig } from '../../../common/config.ts'
import { type RequestContext, requireUser } from '../../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { type ImageId, objectKeyFor } from '../../../shared/image/image.ts'
import type { UploadStorage } from './upload-storage.ts'
import { parseLabels } from './labels.ts'
import { parseAllowedContentType, parseDeclaredSize, parseFileName } from './upload-rules.ts'

export type CreateImageUploadPresignedUrlInput = {
  contentType: string
  fileName: string
  /** The size the client will upload: reserved exactly. Without it, MAX_UPLOAD_BYTES is reserved. */
  sizeBytes?: unknown
  labels?: unknown
}

export type ImageUploadPresignedUrl = {
  imageId: ImageId
  uploadUrl: string
  expiresAt: Date
  /** Headers the client must send with its PUT, exactly as given. */
  uploadHeaders: Record<string, string>
}

export type CreateImageUploadPresignedUrl = (
  ctx: RequestContext,
  input: CreateImageUploadPresignedUrlInput,
) => Promise<ImageUploadPresignedUrl>

/**
 * Validates the request, presigns a PUT for `uploads/{image_id}`, then saves the record as
 * `pending` (size unknown) before returning the URL. The save reserves the upload against
 * the owner's quota in the same statement (the declared size, or MAX_UPLOAD_BYTES), and
 * throws QuotaExceededError (403 QUOTA_EXCEEDED, naming the limit) when it does not fit.
 *
 * Order: presign first, save second. Presigning is a local computation with the SDK, so if
 * it fails nothing has been written and no orphan record is left; if the save fails, the URL
 * is never returned and an unused URL simply expires. The URL cannot be used before the
 * record exists because the caller only sees it after the save succeeded.
 */
export function createImageUploadPresignedUrl(deps: {
  images: ImageRepository
  storage: UploadStorage
  newId: () => ImageId
  config: Pick<UploadConfig, 'urlTtlSeconds'>
  quota: QuotaConfig
  maxUploadBytes: number
}): CreateImageUploadPresignedUrl {
  return async (ctx, input) => {
    // The owner of the image is whoever asked; nothing in the input can name another one.
    const { ownerId } = requireUser(ctx)
    const contentType = parseAllowedContentType(input.contentType)
    const fileName = parseFileName(input.fileName)
    const labels = parseLabels(input.labels)
    const declaredSize = input.sizeBytes === undefined ? undefined : parseDeclaredSize(input.sizeBytes, deps.maxUploadBytes)
    const reservedBytes = declaredSize ?? deps.maxUploadBytes
    const imageId = deps.newId()
    const objectKey = objectKeyFor(imageId)
    const presigned = await deps.storage.generatePresignedUploadUrl({
      objectKey,
      contentType,
      expiresInSeconds: deps.config.urlTtlSeconds,
      // A declared size is signed: storage refuses any other, so the reservation is exact.
      contentLength: declaredSize,
    })
    await deps.images.saveWithinQuota({ id: imageId, ownerId, contentType, fileName, objectKey, labels, reservedBytes }, deps.quota, ctx)
    return { imageId, uploadUrl: presigned.url, expiresAt: presigned.expiresAt, uploadHeaders: presigned.headers }
  }
}
