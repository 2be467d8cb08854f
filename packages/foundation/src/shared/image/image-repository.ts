import type { ImageId, ImageRecord, ImageStatus, ImageTransition, Labels, NewImageRecord } from './image.ts'
import type { OwnerUsage, QuotaLimits } from './usage.ts'
import type { RequestContext } from '../identity/request-context.ts'

/** One page of an owner's images, newest first; `before` is the keyset cursor (the last id seen). */
export type ImageListQuery = {
  ownerId: string
  /** Deleted images are left out unless asked for by status. */
  status?: ImageStatus | undefined
  sourceImageId?: ImageId | undefined
  /** Every pair must match (labels @> …). */
  labels?: Labels | undefined
  before?: ImageId | undefined
  limit: number
}

/**
 * Port: where image records live. The PostgreSQL implementation is the production one.
 *
 * Every status change appends its event (image.pending, image.ready, image.failed,
 * image.deleted) and, when given the context of whoever caused it, its audit row, in the
 * same transaction as the change.
 */
export interface ImageRepository {
  /**
   * Inserts a new `pending` record with unknown size, and counts it (and its
   * `reservedBytes`, 0 unless given) in its owner's usage, whatever the limits.
   */
  save(record: NewImageRecord, ctx?: RequestContext): Promise<ImageRecord>
  /**
   * Like save, but only when it fits the owner's quota: the check, the reservation and the
   * insert are one atomic step, so concurrent issuances never overshoot. Throws
   * QuotaExceededError, naming the limit, when it does not fit (nothing is written then).
   */
  saveWithinQuota(record: NewImageRecord & { reservedBytes: number }, limits: QuotaLimits, ctx?: RequestContext): Promise<ImageRecord>
  /** The owner's current usage (zeros for an owner who never issued anything). */
  usageOf(ownerId: string): Promise<OwnerUsage>
  /** Any owner's record: callers decide who may see it (shared/image/ownership.ts). */
  findById(id: ImageId): Promise<ImageRecord | null>
  /** One query for any number of ids, of this owner only; the others are simply absent. */
  findOwnedByIds(ownerId: string, ids: readonly ImageId[]): Promise<ImageRecord[]>
  list(query: ImageListQuery): Promise<ImageRecord[]>
  /**
   * Moves a `pending` record to a final state and sets `updated_at = now()`. In the same
   * statement the owner's usage converts the reservation: ready counts the real size
   * instead, failed releases the image and its reservation.
   * Returns the updated record, or null when the record is missing or no longer pending
   * (a duplicate delivery lost the race): final states never change.
   */
  transitionFromPending(id: ImageId, transition: ImageTransition, ctx?: RequestContext): Promise<ImageRecord | null>
  /**
   * Moves a `ready` record whose object is no longer the approved one to `failed`, reason
   * `replaced`, only while its stored ETag is still `approvedEtag`. Returns the updated
   * record, or null when another delivery changed it first. The image and its bytes leave
   * the owner's usage in the same statement.
   */
  failReplaced(id: ImageId, approvedEtag: string, ctx?: RequestContext): Promise<ImageRecord | null>
  /**
   * Any status but `deleted` -> `deleted`, giving back what it held in the owner's usage
   * (a pending reservation, or a ready image's bytes) in the same transaction. Returns the
   * record, or null when it already was (or is missing).
   */
  markDeleted(id: ImageId, ctx?: RequestContext): Promise<ImageRecord | null>
}
