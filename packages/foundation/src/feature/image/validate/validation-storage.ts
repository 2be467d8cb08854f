/**
 * Port: what the processor does with the object store (DESIGN, "Storage access by app"): it
 * reads uploads and deletes the rejected ones. Implementations throw
 * DependencyUnavailableError('STORAGE_UNAVAILABLE') for transient failures, so callers can
 * tell "try again" from "the object is not there" (null from getObjectMetadata,
 * StoredObjectNotFoundError from the reads).
 */
export interface ValidationStorage {
  /** Size and stored content type, or null when the object does not exist. */
  getObjectMetadata(objectKey: string): Promise<ObjectMetadata | null>
  /** The first `bytes` bytes (a ranged GET), or fewer when the object is smaller. */
  readObjectHead(objectKey: string, bytes: number): Promise<Uint8Array>
  /** The whole object; callers bound its size first (getObjectMetadata). */
  readObject(objectKey: string): Promise<Uint8Array>
  /** Idempotent: deleting a missing object succeeds. */
  deleteObject(objectKey: string): Promise<void>
}

export type ObjectMetadata = { sizeBytes: number; contentType: string | undefined }
