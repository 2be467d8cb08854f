import type { UploadConfig } from '../../../common/config.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { type ImageId, objectKeyFor } from '../../../shared/image/image.ts'
import type { UploadStorage } from './upload-storage.ts'
import { parseAllowedContentType, parseFileName } from './upload-rules.ts'

export type CreateImageUploadPresignedUrlInput = { contentType: string; fileName: string }

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
 * `pending` (size unknown) before returning the URL.
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
  config: UploadConfig
}): CreateImageUploadPresignedUrl {
  return async (_ctx, input) => {
    const contentType = parseAllowedContentType(input.contentType)
    const fileName = parseFileName(input.fileName)
    const imageId = deps.newId()
    const objectKey = objectKeyFor(imageId)
    const presigned = await deps.storage.generatePresignedUploadUrl({
      objectKey,
      contentType,
      expiresInSeconds: deps.config.urlTtlSeconds,
    })
    await deps.images.save({ id: imageId, contentType, fileName, objectKey })
    return { imageId, uploadUrl: presigned.url, expiresAt: presigned.expiresAt, uploadHeaders: presigned.headers }
  }
}
