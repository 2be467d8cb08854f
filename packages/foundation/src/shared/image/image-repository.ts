import type { ImageId, ImageRecord, ImageTransition, NewImageRecord } from './image.ts'

/** Port: where image records live. The PostgreSQL implementation is the production one. */
export interface ImageRepository {
  /** Inserts a new `pending` record with unknown size. */
  save(record: NewImageRecord): Promise<ImageRecord>
  findById(id: ImageId): Promise<ImageRecord | null>
  /** One query for any number of ids; missing ids are simply absent from the result. */
  findByIds(ids: readonly ImageId[]): Promise<ImageRecord[]>
  /**
   * Moves a `pending` record to a final state and sets `updated_at = now()`.
   * Returns the updated record, or null when the record is missing or no longer pending
   * (a duplicate delivery lost the race): final states never change.
   */
  transitionFromPending(id: ImageId, transition: ImageTransition): Promise<ImageRecord | null>
  /**
   * Moves a `ready` record whose object is no longer the approved one to `failed`, reason
   * `replaced`, only while its stored ETag is still `approvedEtag`. Returns the updated
   * record, or null when another delivery changed it first.
   */
  failReplaced(id: ImageId, approvedEtag: string): Promise<ImageRecord | null>
}
