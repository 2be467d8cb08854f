import type { QuotaConfig, UploadConfig } from '../../../common/config.ts'
import type { Logger } from '../../../common/logger.ts'
import { type RequestContext, requireUser } from '../../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { type ImageId, objectKeyFor } from '../../../shared/image/image.ts'
import { parseLabels } from './labels.ts'
import { partSizeFor, planParts } from './multipart-plan.ts'
import type { MultipartStorage } from './multipart-storage.ts'
import type { MultipartUploads } from './multipart-uploads.ts'
import { parseAllowedContentType, parseDeclaredSize, parseFileName } from './upload-rules.ts'

export type CreateMultipartUploadInput = { contentType: string; fileName: string; sizeBytes: unknown; labels?: unknown }

export type PresignedPart = { partNumber: number; uploadUrl: string; sizeBytes: number }

export type ImageMultipartUpload = {
  imageId: ImageId
  uploadId: string
  partSize: number
  expiresAt: Date
  parts: PresignedPart[]
  /** Parts are sent with no header of the client's: their signed content-length is the body's own. */
  uploadHeaders: Record<string, string>
}

/**
 * Command: an upload in parts. Order: the declared size is checked first (FILE_TOO_LARGE, no
 * storage call), then the record is saved `pending` with the size reserved against the quota
 * (QUOTA_EXCEEDED, still no storage call), then S3's upload starts and its id is kept, then
 * every part is presigned with its exact content-length. If storage or the database fails
 * after the record exists, the record is failed `aborted` (its reservation released) and
 * the upload, if it started, is aborted; an abort that fails too is the sweeper's to finish,
 * or the bucket's AbortIncompleteMultipartUpload rule's (docs/operations.md).
 */
export function createImageMultipartUpload(deps: {
  images: ImageRepository
  storage: MultipartStorage
  uploads: MultipartUploads
  newId: () => ImageId
  config: Pick<UploadConfig, 'multipartUrlTtlSeconds'>
  quota: QuotaConfig
  maxUploadBytes: number
  now?: () => Date
  log?: Logger
}) {
  const now = deps.now ?? (() => new Date())
  return async (ctx: RequestContext, input: CreateMultipartUploadInput): Promise<ImageMultipartUpload> => {
    const { ownerId } = requireUser(ctx)
    const contentType = parseAllowedContentType(input.contentType)
    const fileName = parseFileName(input.fileName)
    const labels = parseLabels(input.labels)
    const sizeBytes = parseDeclaredSize(input.sizeBytes, deps.maxUploadBytes)
    const partSize = partSizeFor(sizeBytes)
    const imageId = deps.newId()
    const objectKey = objectKeyFor(imageId)
    await deps.images.saveWithinQuota(
      { id: imageId, ownerId, contentType, fileName, objectKey, labels, reservedBytes: sizeBytes },
      deps.quota,
      ctx,
    )

    let uploadId: string | undefined
    try {
      uploadId = await deps.storage.createMultipartUpload({ objectKey, contentType })
      const ttl = deps.config.multipartUrlTtlSeconds
      const expiresAt = new Date(now().getTime() + ttl * 1000)
      await deps.uploads.insert({ imageId, uploadId, sizeBytes, partSize, expiresAt })
      const created = uploadId
      const parts = await Promise.all(
        planParts(sizeBytes, partSize).map(async (part) => ({
          ...part,
          uploadUrl: await deps.storage.presignPart({ objectKey, uploadId: created, ...part, expiresInSeconds: ttl }),
        })),
      )
      return { imageId, uploadId, partSize, expiresAt, parts, uploadHeaders: {} }
    } catch (error) {
      await undo(imageId, objectKey, uploadId, ctx).catch((undoError: unknown) =>
        deps.log?.warn({ err: undoError, imageId }, 'a multipart upload that failed to start is left to the sweeper'),
      )
      throw error
    }
  }

  async function undo(imageId: ImageId, objectKey: string, uploadId: string | undefined, ctx: RequestContext) {
    if (uploadId !== undefined) await deps.storage.abortMultipartUpload({ objectKey, uploadId })
    await deps.uploads.markAborted(imageId)
    await deps.images.transitionFromPending(imageId, { status: 'failed', failureReason: 'aborted' }, ctx)
  }
}

export type CreateImageMultipartUpload = ReturnType<typeof createImageMultipartUpload>
