import type { Logger } from '../../../common/logger.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import type { ImageId } from '../../../shared/image/image.ts'
import type { MultipartStorage } from './multipart-storage.ts'
import type { MultipartUploads } from './multipart-uploads.ts'
import { ownedOpenMultipart } from './owned-multipart.ts'

/**
 * Command: the client gives up. Storage drops the parts first, then the record fails with
 * `aborted` (its reservation released, its event appended) and the upload is closed. A crash
 * in between leaves an open upload whose storage side is gone: aborting again, or the
 * sweeper, finishes it (aborting a gone upload succeeds).
 */
export function createAbortMultipartUpload(deps: {
  images: ImageRepository
  storage: MultipartStorage
  uploads: MultipartUploads
  log?: Logger
}) {
  return async (ctx: RequestContext, imageId: ImageId): Promise<void> => {
    const { record, upload } = await ownedOpenMultipart(deps, ctx, imageId)
    await deps.storage.abortMultipartUpload({ objectKey: record.objectKey, uploadId: upload.uploadId })
    await deps.images.transitionFromPending(imageId, { status: 'failed', failureReason: 'aborted' }, ctx)
    await deps.uploads.markAborted(imageId)
    deps.log?.info({ imageId, requestId: ctx.requestId }, 'multipart upload aborted')
  }
}

export type AbortMultipartUpload = ReturnType<typeof createAbortMultipartUpload>
