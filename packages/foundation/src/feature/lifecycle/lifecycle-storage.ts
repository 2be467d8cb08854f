/**
 * Port: what the sweeper does with the object store. Every call is idempotent: a missing
 * object, prefix or upload is success. Transient failures throw
 * DependencyUnavailableError('STORAGE_UNAVAILABLE'); the step then stops and the next sweep
 * starts over.
 */
export interface LifecycleStorage {
  objectExists(objectKey: string): Promise<boolean>
  deleteObject(objectKey: string): Promise<void>
  /** Deletes every object under the prefix (e.g. `variants/{image_id}/`); returns how many there were. */
  deletePrefix(prefix: string): Promise<number>
  abortMultipartUpload(input: { objectKey: string; uploadId: string }): Promise<void>
}
