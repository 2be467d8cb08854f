/**
 * Port: the api's control of S3 multipart uploads (DESIGN, "Storage access by app": create,
 * list, complete, abort, and presigned parts), and the existence check of `upload/confirm`.
 * Implementations throw DependencyUnavailableError('STORAGE_UNAVAILABLE') for transient
 * failures, and MultipartRefusedError when storage refuses a part list.
 */
export interface MultipartStorage {
  /** Starts a multipart upload whose object will carry this Content-Type; returns S3's upload id. */
  createMultipartUpload(input: { objectKey: string; contentType: string }): Promise<string>
  /** A presigned UploadPart with its exact `content-length` signed: storage refuses any other size. */
  presignPart(input: PartToPresign): Promise<string>
  /** Every part storage holds for the upload, by part number; null when the upload does not exist. */
  listParts(input: { objectKey: string; uploadId: string }): Promise<StoredPart[] | null>
  /** Assembles the parts; throws MultipartRefusedError for a part list storage refuses. */
  completeMultipartUpload(input: { objectKey: string; uploadId: string; parts: { partNumber: number; etag: string }[] }): Promise<void>
  /** Idempotent: aborting an upload that is gone (aborted, completed, never started) succeeds. */
  abortMultipartUpload(input: { objectKey: string; uploadId: string }): Promise<void>
  /** Whether an object is stored at the key (a HEAD). */
  objectExists(objectKey: string): Promise<boolean>
}

export type PartToPresign = { objectKey: string; uploadId: string; partNumber: number; sizeBytes: number; expiresInSeconds: number }

/** A part storage holds; `etag` as S3 gives it, with its quotes. */
export type StoredPart = { partNumber: number; etag: string; sizeBytes: number }
