import { DependencyUnavailableError } from '../../../common/errors.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { type ImageId, ImageNotFoundError, type ImageStatus } from '../../../shared/image/image.ts'
import { ownedBy } from '../../../shared/image/ownership.ts'
import type { ValidateImageMessage } from '../../../shared/queue/messages.ts'
import type { QueueSender } from '../../../shared/queue/sqs-sender.ts'
import { MultipartError } from './multipart-errors.ts'
import type { MultipartStorage } from './multipart-storage.ts'

export type ConfirmedUpload = { imageId: ImageId; status: ImageStatus; queued: boolean }

/**
 * Command: "my upload is there, validate it now", for stores that send no events and clients
 * that want an early answer. A final record answers its status (nothing queued). A pending
 * one with no object yet is 409 UPLOAD_NOT_FOUND and stays pending. Otherwise a validate
 * message is queued: the processor decides once however many confirms and storage events
 * arrive, since its moves are from `pending` only.
 */
export function createConfirmUpload(deps: {
  images: ImageRepository
  storage: Pick<MultipartStorage, 'objectExists'>
  queue: QueueSender<ValidateImageMessage> | undefined
}) {
  return async (ctx: RequestContext, imageId: ImageId): Promise<ConfirmedUpload> => {
    const record = await deps.images.findById(imageId)
    if (record === null || !ownedBy(ctx.actor, record)) throw new ImageNotFoundError(imageId)
    if (record.status !== 'pending') return { imageId, status: record.status, queued: false }
    if (!(await deps.storage.objectExists(record.objectKey))) {
      throw new MultipartError('UPLOAD_NOT_FOUND', `image ${imageId} has no uploaded object yet; PUT it, then confirm`)
    }
    if (deps.queue === undefined) {
      throw new DependencyUnavailableError('QUEUE_UNAVAILABLE', 'confirm is off: the api was started without SQS_QUEUE_URL')
    }
    await deps.queue.sendMessage({ type: 'validate', image_id: imageId })
    return { imageId, status: 'pending', queued: true }
  }
}

export type ConfirmUpload = ReturnType<typeof createConfirmUpload>
