/**
 * Port: what the api does with the object store (DESIGN, "Storage access by app"): it
 * presigns uploads and deletes objects and their variants, and never reads image bytes. Implementations throw
 * DependencyUnavailableError('STORAGE_UNAVAILABLE') for transient failures.
 */
export interface UploadStorage {
  /**
   * A presigned PUT with the content type signed in: storage refuses any other Content-Type.
   * With `contentLength`, the length is signed too: storage refuses a body of any other size
   * (403). Clients never send Content-Length themselves (browsers may not); it is the body's.
   */
  generatePresignedUploadUrl(input: {
    objectKey: string
    contentType: string
    expiresInSeconds: number
    contentLength?: number
  }): Promise<PresignedUpload>
  /** Idempotent: deleting a missing object succeeds. */
  deleteObject(objectKey: string): Promise<void>
  /** Deletes every object under `variants/{imageId}/`; returns how many there were (0 is success). */
  deleteVariants(imageId: string): Promise<number>
}

export type PresignedUpload = {
  url: string
  /** Headers the client must send with the PUT, exactly as given. */
  headers: Record<string, string>
  expiresAt: Date
}
