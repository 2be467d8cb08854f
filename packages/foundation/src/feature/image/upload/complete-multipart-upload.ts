import type { Logger } from '../../../common/logger.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { type ImageId, ImageNotFoundError, type ImageStatus } from '../../../shared/image/image.ts'
import { ownedBy } from '../../../shared/image/ownership.ts'
import { MultipartError } from './multipart-errors.ts'
import { checkPartList, planParts } from './multipart-plan.ts'
import type { MultipartStorage } from './multipart-storage.ts'
import type { MultipartUploads } from './multipart-uploads.ts'
import { ownedOpenMultipart } from './owned-multipart.ts'

export type CompleteMultipartUploadInput = { imageId: ImageId; parts: readonly { partNumber: number; etag: string }[] }

/**
 * Command: the client has sent every part. Its list is checked against the plan and against
 * ListParts first (400 INVALID_PARTS: nothing is completed), then storage assembles the
 * object; its ObjectCreated event validates it like any upload. Completing again after a
 * success answers the record's status (a retried request whose answer was lost).
 */
export function createCompleteMultipartUpload(deps: {
  images: ImageRepository
  storage: MultipartStorage
  uploads: MultipartUploads
  log?: Logger
}) {
  return async (ctx: RequestContext, input: CompleteMultipartUploadInput): Promise<{ imageId: ImageId; status: ImageStatus }> => {
    const { imageId } = input
    const record = await deps.images.findById(imageId)
    if (record === null || !ownedBy(ctx.actor, record)) throw new ImageNotFoundError(imageId)
    const existing = await deps.uploads.find(imageId)
    if (existing?.completedAt != null) return { imageId, status: record.status }
    const { upload } = await ownedOpenMultipart(deps, ctx, imageId)
    const stored = await deps.storage.listParts({ objectKey: record.objectKey, uploadId: upload.uploadId })
    if (stored === null) throw new MultipartError('UPLOAD_FINISHED', `image ${imageId} has no multipart upload in storage any more`)
    const parts = checkPartList(input.parts, planParts(upload.sizeBytes, upload.partSize), stored)
    await deps.storage.completeMultipartUpload({ objectKey: record.objectKey, uploadId: upload.uploadId, parts })
    await deps.uploads.markCompleted(imageId)
    deps.log?.info({ imageId, requestId: ctx.requestId, parts: parts.length }, 'multipart upload completed')
    return { imageId, status: record.status }
  }
}

export type CompleteMultipartUpload = ReturnType<typeof createCompleteMultipartUpload>
