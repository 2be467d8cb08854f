/**
 * Port: the object store that receives uploads. Implementations throw
 * DependencyUnavailableError('STORAGE_UNAVAILABLE') for transient failures, so callers can
 * tell "try again" from "the object is not there" (null from getObjectMetadata,
 * StoredObjectNotFoundError from the reads).
 */
export interface ImageStorage {
  /** A presigned PUT with the content type signed in: storage refuses any other Content-Type. */
  generatePresignedUploadUrl(input: {
    objectKey: string
    contentType: string
    expiresInSeconds: number
  }): Promise<PresignedUpload>
  /** Size and stored content type, or null when the object does not exist. */
  getObjectMetadata(objectKey: string): Promise<ObjectMetadata | null>
  /** The first `bytes` bytes (a ranged GET), or fewer when the object is smaller. */
  readObjectHead(objectKey: string, bytes: number): Promise<Uint8Array>
  /** The whole object; callers bound its size first (getObjectMetadata). */
  readObject(objectKey: string): Promise<Uint8Array>
  /** Idempotent: deleting a missing object succeeds. */
  deleteObject(objectKey: string): Promise<void>
}

export type PresignedUpload = {
  url: string
  /** Headers the client must send with the PUT, exactly as given. */
  headers: Record<string, string>
  expiresAt: Date
}

export type ObjectMetadata = { sizeBytes: number; contentType: string | undefined }
