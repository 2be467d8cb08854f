import type { ImageServiceClient } from './client.ts'
import { ImageServiceError, storageError, unwrap } from './errors.ts'
import type { WaitOptions } from './follow.ts'
import type { Image } from './types.ts'
import { waitForImage } from './wait-for-image.ts'

const MiB = 1024 * 1024

/**
 * Files above this go in parts, like the AWS CLI's default multipart threshold: below it one
 * PUT is as fast and a failed one costs little to repeat; above it parts go in parallel and a
 * failure costs one part. Parts are at least 5 MiB (S3's minimum), so an 8 MiB file is two.
 */
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 8 * MiB

export type UploadImageRequest = {
  file: Blob | Uint8Array
  /** One of image/jpeg, image/png, image/webp, image/avif, image/gif, exactly: the processor checks the bytes are that. */
  contentType: string
  /** Stored as metadata only. Default: the File's name, else `upload`. */
  fileName?: string
  /** The caller's own key/value strings (at most 10), for listing with `?label.<key>=<value>`. */
  labels?: Record<string, string>
  signal?: AbortSignal
  /** Default DEFAULT_MULTIPART_THRESHOLD_BYTES. */
  multipartThresholdBytes?: number
  /** Parts in flight at once. Default 4. */
  partConcurrency?: number
  /** Called after each PUT that completed (one for a single PUT, one per part). */
  onProgress?: (progress: { uploadedBytes: number; totalBytes: number }) => void
}

/**
 * Uploads the bytes (putImage), then waits for the processor's verdict (waitForImage, over
 * the events stream, polling when it cannot): resolves with the ready Image, with its
 * variants, or rejects with an ImageFailedError carrying `failureReason`. `wait` takes
 * waitForImage's options; its `signal` defaults to the upload's.
 */
export async function uploadImage(client: ImageServiceClient, request: UploadImageRequest & { wait?: WaitOptions }): Promise<Image> {
  const { imageId } = await putImage(client, request)
  return waitForImage(client, imageId, { ...(request.signal === undefined ? {} : { signal: request.signal }), ...request.wait })
}

/**
 * Uploads the bytes straight to storage: a presigned PUT with `size_bytes` declared (so the
 * quota reserves exactly the file's size and storage refuses any other), or, above the
 * threshold, a multipart upload through the api's routes. Resolves once storage has the
 * object; the processor then validates it: `waitForImage` tells the outcome (uploadImage does
 * both). Api errors are ImageServiceErrors with the api's code; storage refusals have
 * `STORAGE_<code>`.
 */
export async function putImage(client: ImageServiceClient, request: UploadImageRequest): Promise<{ imageId: string }> {
  const size = request.file instanceof Blob ? request.file.size : request.file.byteLength
  const fileName = request.fileName ?? fileNameOf(request.file)
  const threshold = request.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD_BYTES
  if (size > threshold) return uploadInParts(client, { ...request, size, fileName })

  const issued = unwrap(
    await client.POST('/api/image/v1/upload/create-presigned-url', {
      body: { content_type: request.contentType, file_name: fileName, size_bytes: size, labels: request.labels },
      signal: request.signal,
    }),
  )
  await put(issued.upload_url, issued.upload_headers, request.file, request.signal, 'upload PUT')
  request.onProgress?.({ uploadedBytes: size, totalBytes: size })
  return { imageId: issued.image_id }
}

async function uploadInParts(
  client: ImageServiceClient,
  request: UploadImageRequest & { size: number; fileName: string },
): Promise<{ imageId: string }> {
  const created = unwrap(
    await client.POST('/api/image/v1/upload/create-multipart-upload', {
      body: { content_type: request.contentType, file_name: request.fileName, size_bytes: request.size, labels: request.labels },
      signal: request.signal,
    }),
  )
  try {
    const etags: { part_number: number; etag: string }[] = []
    let uploadedBytes = 0
    const queue = [...created.parts]
    // The first failure stops the other parts: they would be dropped by the abort anyway.
    const stop = new AbortController()
    const signal = request.signal === undefined ? stop.signal : AbortSignal.any([request.signal, stop.signal])
    let failure: { error: unknown } | undefined
    const worker = async () => {
      try {
        for (let part = queue.shift(); part !== undefined && failure === undefined; part = queue.shift()) {
          const start = (part.part_number - 1) * created.part_size
          const bytes = slice(request.file, start, start + part.size_bytes)
          const response = await put(part.upload_url, created.upload_headers, bytes, signal, `part ${part.part_number} PUT`)
          const etag = response.headers.get('etag')
          if (etag === null) {
            // A browser sees ETag only when the bucket's CORS rule exposes it.
            throw new ImageServiceError({
              status: response.status,
              code: 'STORAGE_NO_ETAG',
              message: 'storage answered a part without an ETag',
            })
          }
          etags.push({ part_number: part.part_number, etag })
          uploadedBytes += part.size_bytes
          request.onProgress?.({ uploadedBytes, totalBytes: request.size })
        }
      } catch (error) {
        failure ??= { error }
        stop.abort(error)
      }
    }
    await Promise.all(Array.from({ length: Math.min(request.partConcurrency ?? 4, created.parts.length) }, worker))
    if (failure !== undefined) throw request.signal?.aborted ? request.signal.reason : failure.error
    etags.sort((a, b) => a.part_number - b.part_number)
    unwrap(
      await client.POST('/api/image/v1/upload/complete-multipart-upload', {
        body: { image_id: created.image_id, parts: etags },
        signal: request.signal,
      }),
    )
    return { imageId: created.image_id }
  } catch (error) {
    // Abort: the parts are dropped at storage, the image fails with `aborted` and its quota is released.
    await client
      .DELETE('/api/image/v1/upload/multipart/{image_id}', { params: { path: { image_id: created.image_id } } })
      .catch(() => undefined)
    throw error
  }
}

async function put(url: string, headers: Record<string, string>, body: Blob | Uint8Array, signal: AbortSignal | undefined, what: string) {
  const response = await fetch(url, { method: 'PUT', headers, body: body as RequestInit['body'], signal: signal ?? null })
  if (!response.ok) throw await storageError(response, what)
  await response.body?.cancel()
  return response
}

function slice(file: Blob | Uint8Array, start: number, end: number): Blob | Uint8Array {
  return file instanceof Blob ? file.slice(start, end) : file.subarray(start, end)
}

function fileNameOf(file: Blob | Uint8Array): string {
  return 'name' in file && typeof file.name === 'string' && file.name !== '' ? file.name : 'upload'
}
