/**
 * Port: what the processor does with the object store (DESIGN, "Storage access by app"): it
 * reads uploads and deletes the rejected ones. Implementations throw
 * DependencyUnavailableError('STORAGE_UNAVAILABLE') for transient failures, so callers can
 * tell "try again" from "the object is not there" (null from getObjectMetadata and
 * readObjectStart, StoredObjectNotFoundError from readObject).
 *
 * readObjectStart reads the current version's first bytes and its metadata in one request;
 * readObject then names that version (its ETag) and throws StoredObjectChangedError when the
 * object is no longer it. No read takes in more bytes than asked, even from a store that
 * ignores Range: what is judged is exactly what was measured, and memory stays bounded
 * whatever the store does.
 */
export interface ValidationStorage {
  /** Size, content type, ETag and the uploader-settable response headers, or null when the object does not exist. */
  getObjectMetadata(objectKey: string): Promise<ObjectMetadata | null>
  /**
   * The current version's metadata and its first `bytes` bytes (fewer when the object is
   * smaller), from one ranged GET: a small upload is read whole in one request. Null when the
   * object does not exist.
   */
  readObjectStart(objectKey: string, read: { bytes: number }): Promise<{ object: ObjectMetadata; head: Uint8Array } | null>
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
