import type { ImageLimits } from '../../../common/config.ts'
import { isAppError } from '../../../common/errors.ts'
import type { Logger } from '../../../common/logger.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import type { FailureReason, ImageId, ImageRecord, ImageStatus } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import { StoredObjectNotFoundError } from '../../../shared/storage/s3-errors.ts'
import type { ValidationStorage } from './validation-storage.ts'
import { HEAD_BYTES, type Inspection, inspectContent, inspectHead } from './image-inspection.ts'
import { unexpectedStoredHeaders } from './stored-headers.ts'
import type { ImageVariants } from '../variants/image-variants.ts'

/**
 * What happened to one upload, as a value. `retry`: nothing was decided, leave the message
 * for redelivery (`reason` is an error code such as IMAGE_RECORD_NOT_FOUND or
 * STORAGE_UNAVAILABLE; `afterSeconds`, when set, is how long to wait).
 */
export type ValidationOutcome =
  | { outcome: 'ready'; sizeBytes: number }
  | { outcome: 'failed'; reason: FailureReason }
  | { outcome: 'skipped'; status: ImageStatus }
  | { outcome: 'retry'; reason: string; afterSeconds?: number }

export type ValidateImage = (ctx: RequestContext, imageId: ImageId) => Promise<ValidationOutcome>

/**
 * Decides whether a pending upload becomes `ready` or `failed`. Cheap checks come first and
 * the head is read with a ranged GET, so a decompression bomb costs a few kilobytes; the
 * whole object is read only once everything the head can tell has passed.
 * Anything that is not about the bytes (the record not visible yet, storage, the database
 * or the decoder unavailable, the object changing while read) is a `retry`, never a verdict.
 * Other errors are bugs and are thrown.
 */
export function createValidateImage(deps: {
  images: ImageRepository
  storage: ValidationStorage
  /** Derives and stores the variants of an approved upload, and removes those of any other. */
  variants: ImageVariants
  limits: ImageLimits
  log?: Logger
}): ValidateImage {
  const { images, storage, variants, limits } = deps

  async function reject(ctx: RequestContext, record: ImageRecord, reason: FailureReason, detail: string): Promise<ValidationOutcome> {
    // The status first: only the delivery whose move from pending wins may delete, so a
    // duplicate delivery that reached another verdict cannot delete the bytes of a record
    // just marked ready. If the delete then fails, the retry finds a failed record and
    // deletes again, as for any event of a failed record.
    const updated = await images.transitionFromPending(record.id, { status: 'failed', failureReason: reason }, ctx)
    if (updated === null) return skippedAfterRace(record.id)
    deps.log?.info({ imageId: record.id, reason, detail }, 'upload rejected')
    await storage.deleteObject(record.objectKey)
    return { outcome: 'failed', reason }
  }

  /**
   * Another delivery of the same event finished first, or the record left pending meanwhile
   * (expired by the sweeper, deleted by its owner): report the state it left. Only a ready
   * record keeps variants; any this delivery wrote for another state go.
   */
  async function skippedAfterRace(imageId: ImageId): Promise<ValidationOutcome> {
    const current = await images.findById(imageId)
    const status = current?.status ?? 'pending'
    if (status !== 'ready' && status !== 'pending') await variants.remove(imageId)
    return { outcome: 'skipped', status }
  }

  const verdict = async (ctx: RequestContext, record: ImageRecord, inspection: Inspection): Promise<ValidationOutcome | null> =>
    inspection.ok ? null : reject(ctx, record, inspection.reason, inspection.detail)

  /**
   * A ready record's object must still be the version approved. Another ETag means it was
   * overwritten, on a store that ignores If-None-Match, with bytes nobody checked: fail the
   * record first (guarded by the approved ETag), then delete the object.
   */
  async function recheckReady(ctx: RequestContext, record: ImageRecord): Promise<ValidationOutcome> {
    const skipped: ValidationOutcome = { outcome: 'skipped', status: 'ready' }
    // Records approved before ETags were stored have nothing to compare with.
    if (record.etag === null) return skipped
    const object = await storage.getObjectMetadata(record.objectKey)
    if (object === null || object.etag === record.etag) return skipped
    const updated = await images.failReplaced(record.id, record.etag, ctx)
    if (updated === null) return skippedAfterRace(record.id)
    deps.log?.warn({ imageId: record.id, reason: 'replaced', approved: record.etag, found: object.etag }, 'approved object was replaced')
    await storage.deleteObject(record.objectKey)
    await variants.remove(record.id)
    return { outcome: 'failed', reason: 'replaced' }
  }

  async function validate(ctx: RequestContext, imageId: ImageId): Promise<ValidationOutcome> {
    const record = await images.findById(imageId)
    // An image we never issued, or not visible yet: SQS redelivers, then the DLQ.
    if (record === null) return { outcome: 'retry', reason: 'IMAGE_RECORD_NOT_FOUND' }
    if (record.status === 'failed' || record.status === 'deleted') {
      // A failed or deleted record never has bytes: the upload URL can outlive the rejection
      // or the delete, so a later PUT may have stored something again. Deleting is idempotent
      // for duplicate deliveries. Its variants go too: a crash after writing them, before the
      // record turned ready, leaves them for this repair.
      await storage.deleteObject(record.objectKey)
      await variants.remove(record.id)
    }
    if (record.status === 'ready') return recheckReady(ctx, record)
    if (record.status !== 'pending') return { outcome: 'skipped', status: record.status }

    // One ranged GET gives the size, the stored headers and the head (all of a small upload).
    const start = await storage.readObjectStart(record.objectKey, { bytes: HEAD_BYTES })
    if (start === null) return reject(ctx, record, 'missing_object', 'no object at the key')
    const { object, head } = start
    if (object.sizeBytes > limits.maxUploadBytes) return reject(ctx, record, 'too_large', `${object.sizeBytes} bytes`)
    const unexpected = unexpectedStoredHeaders(object.headers)
    if (unexpected.length > 0) return reject(ctx, record, 'unexpected_headers', `stored with ${unexpected.join(', ')}`)

    // The rest is read as the version that first GET measured (If-Match) and capped, so the
    // bytes judged are the bytes measured, whatever the store does with Range or If-None-Match.
    const version = { etag: object.etag }
    const headVerdict = await verdict(ctx, record, await inspectHead(head, record.contentType, limits))
    if (headVerdict !== null) return headVerdict

    const bytes =
      object.sizeBytes <= head.length ? head : await storage.readObject(record.objectKey, { ...version, maxBytes: limits.maxUploadBytes })
    if (bytes.length > limits.maxUploadBytes) return reject(ctx, record, 'too_large', `more than ${limits.maxUploadBytes} bytes read`)
    const content = await inspectContent(bytes, record.contentType, limits)
    const contentVerdict = await verdict(ctx, record, content)
    if (contentVerdict !== null) return contentVerdict

    // The variants are stored before the record turns ready, so a ready record always has
    // them; a crash in between is redone by the redelivery, over the same keys.
    const derivatives = await variants.create(record.id, bytes, content.ok ? { header: content.header, decoded: content.decoded } : {})
    const updated = await images.transitionFromPending(
      record.id,
      { status: 'ready', sizeBytes: bytes.length, etag: object.etag, derivatives },
      ctx,
    )
    if (updated === null) return skippedAfterRace(record.id)
    return { outcome: 'ready', sizeBytes: bytes.length }
  }

  return async (ctx, imageId) => {
    try {
      return await validate(ctx, imageId)
    } catch (error) {
      const reason = retryReason(error)
      if (reason === undefined) throw error
      return { outcome: 'retry', reason }
    }
  }
}

/**
 * The code of an error that says "not now" rather than anything about the upload:
 * a dependency or the decoder unavailable (kind `unavailable`, which includes
 * StoredObjectChangedError), or the object gone while being read (a duplicate delivery
 * rejected it; the retry sees the record's new state).
 */
function retryReason(error: unknown): string | undefined {
  if (error instanceof StoredObjectNotFoundError) return error.code
  if (isAppError(error) && error.kind === 'unavailable') return error.code
  return undefined
}
