import type { ImageServiceClient } from './client.ts'
import { unwrap } from './errors.ts'

/** What `@uppy/aws-s3` v6 asks its `signRequest` to sign (its `PresignableRequest`, the fields we read). */
export type UppySignableRequest = {
  method: 'PUT' | 'POST' | 'GET' | 'DELETE'
  key: string
  contentType?: string
  uploadId?: string
  partNumber?: number
  expiresIn?: number
}

/** What `signRequest` answers (`PresignedResponse`): the URL, the object key storage will hold, the signed headers. */
export type UppyPresignedResponse = { url: string; key: string; headers: Record<string, string> }

export type UppySignRequestOptions = {
  /** Labels for every upload, or per request. */
  labels?: Record<string, string> | ((request: UppySignableRequest) => Record<string, string> | undefined)
  /** The file name the image records. Default: the key Uppy made, without the UUID it puts first. */
  fileName?: (request: UppySignableRequest) => string
}

// Uppy's default key is `${crypto.randomUUID()}-${file.name}`.
const UPPY_KEY_PREFIX = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-(?=.)/i

/**
 * The `signRequest` of `@uppy/aws-s3` v6, for single PUTs (`shouldUseMultipart: false`): each
 * file is presigned by our api with the caller's bearer token, and Uppy PUTs it straight to
 * storage with exactly the headers we signed. Uppy's multipart mode would have the browser
 * create and complete the upload at storage itself, with unsized parts, past our quota and
 * part checks, so those requests are refused here; `uploadImage` does multipart through the api.
 *
 * Uppy tells us no size, so the presign has no `size_bytes`: until the processor validated
 * the upload, the quota reserves MAX_UPLOAD_BYTES for it (10 MiB by default), and storage
 * takes any size up to what the processor then refuses above MAX_UPLOAD_BYTES. An owner near
 * its byte quota gets 403 `QUOTA_EXCEEDED` sooner than the files' real sizes would suggest.
 *
 * The answer's `key` is `uploads/<image_id>`: Uppy reports it in `upload-success`
 * (`response.body.key`), see `imageIdOfUppyKey`.
 */
export function uppySignRequest(
  client: ImageServiceClient,
  options: UppySignRequestOptions = {},
): (request: UppySignableRequest) => Promise<UppyPresignedResponse> {
  return async (request) => {
    if (request.method !== 'PUT' || request.uploadId !== undefined) {
      throw new Error(
        `uppySignRequest signs single PUTs only (got ${request.method}${request.uploadId === undefined ? '' : ' of a multipart upload'}): set shouldUseMultipart: false`,
      )
    }
    const labels = typeof options.labels === 'function' ? options.labels(request) : options.labels
    const fileName = options.fileName?.(request) ?? (request.key.split('/').pop() ?? request.key).replace(UPPY_KEY_PREFIX, '')
    const issued = unwrap(
      await client.POST('/api/image/v1/upload/create-presigned-url', {
        // No size_bytes: Uppy does not tell it (see above). An absent type is refused by the api (INVALID_CONTENT_TYPE).
        body: { content_type: request.contentType ?? '', file_name: fileName, labels },
      }),
    )
    return { url: issued.upload_url, key: `uploads/${issued.image_id}`, headers: issued.upload_headers }
  }
}

/** The image id in the key `uppySignRequest` gave Uppy (`upload-success`'s `response.body.key`). */
export function imageIdOfUppyKey(key: string): string | undefined {
  return /^uploads\/([0-7][0-9A-HJKMNP-TV-Z]{25})$/.exec(key)?.[1]
}
