/**
 * Port: what the processor does with the object store (DESIGN, "Storage access by app"): it
 * reads uploads and deletes the rejected ones. Implementations throw
 * DependencyUnavailableError('STORAGE_UNAVAILABLE') for transient failures, so callers can
 * tell "try again" from "the object is not there" (null from getObjectMetadata,
 * StoredObjectNotFoundError from the reads).
 *
 * Reads name the version they want (the ETag from getObjectMetadata) and throw
 * StoredObjectChangedError when the object is no longer that version, and they never take
 * in more bytes than asked, even from a store that ignores Range: what is judged is exactly
 * what was measured, and memory stays bounded whatever the store does.
 */
export interface ValidationStorage {
  /** Size, content type, ETag and the uploader-settable response headers, or null when the object does not exist. */
  getObjectMetadata(objectKey: string): Promise<ObjectMetadata | null>
  /** The first `bytes` bytes of version `etag` (a ranged GET with If-Match), or fewer when the object is smaller. */
  readObjectHead(objectKey: string, read: { bytes: number; etag: string }): Promise<Uint8Array>
  /**
   * Version `etag`, read up to `maxBytes + 1` bytes and no further: a result longer than
   * `maxBytes` says the object is larger than that.
   */
  readObject(objectKey: string, read: { maxBytes: number; etag: string }): Promise<Uint8Array>
  /** Idempotent: deleting a missing object succeeds. */
  deleteObject(objectKey: string): Promise<void>
}

/**
 * Standard headers S3 stores from a PUT without their being signed, and serves back (through
 * the CDN) on every download: an uploader could name a download `x.html` or declare a
 * `Content-Encoding` the bytes do not have. Our presigned PUTs never send any of them.
 */
export const STORED_RESPONSE_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const
export type StoredResponseHeader = (typeof STORED_RESPONSE_HEADERS)[number]

export type ObjectMetadata = {
  sizeBytes: number
  contentType: string | undefined
  /** The stored version, as storage spells it (S3: the quoted MD5 of a single PUT). */
  etag: string
  /** Only the headers the object was stored with; {} for an upload made as issued. */
  headers: Partial<Record<StoredResponseHeader, string>>
}
