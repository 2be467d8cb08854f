import { waitFor } from '@image-service/devstack'

export type IssuedUpload = { image_id: string; upload_url: string; expires_at: string; upload_headers: Record<string, string> }
export type ImageStatusBody = {
  image_id: string
  status: 'pending' | 'ready' | 'failed' | 'deleted'
  content_type: string
  file_name: string
  size_bytes: number | null
  failure_reason: string | null
  width: number | null
  height: number | null
  variants: { name: string; format: 'webp' | 'avif' | 'jpeg'; width: number; height: number; size_bytes: number }[]
  placeholder: string | null
  metadata_removed: string[]
}
export type SignedDownload = { image_id: string; variant: string; format: string; download_url: string; expires_at: string }
export type ErrorBody = { statusCode: number; code: string; message: string }

/** A response whose body was read as JSON, with its status kept for assertions. */
export type JsonResponse<T> = { status: number; body: T }

/** The bearer credential a client sends: a fixed one, or asked for before each request (renewal). */
export type Credential = string | (() => string | Promise<string>)

/**
 * The public HTTP contract of the api, and nothing else: what a client would use. A client
 * acts for one owner: every request carries that owner's bearer credential.
 */
export function createApiClient(baseUrl: string, credential: Credential) {
  async function json<T>(path: string, init: RequestInit = {}): Promise<JsonResponse<T>> {
    const token = typeof credential === 'string' ? credential : await credential()
    const headers = new Headers(init.headers)
    headers.set('authorization', `Bearer ${token}`)
    const response = await fetch(`${baseUrl}${path}`, { ...init, headers })
    const text = await response.text()
    return { status: response.status, body: (text.length > 0 ? JSON.parse(text) : undefined) as T }
  }
  const post = <T>(path: string, body: unknown) =>
    json<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

  const client = {
    issueUpload: (contentType: string, fileName: string) =>
      post<IssuedUpload | ErrorBody>('/api/image/v1/upload/create-presigned-url', { content_type: contentType, file_name: fileName }),

    /** Any route of the contract, as JSON: for the routes without a helper of their own. */
    request: <T>(method: string, path: string, body?: unknown) =>
      json<T>(
        path,
        body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      ),

    imageStatus: (imageId: string) => json<ImageStatusBody | ErrorBody>(`/api/image/v1/images/${imageId}`),

    signedUrl: (imageId: string) => json<SignedDownload | ErrorBody>(`/api/image/v1/download/get-signed-url/${imageId}`),

    signedUrls: (imageIds: string[]) =>
      post<{ items: SignedDownload[]; not_found: string[] } | ErrorBody>('/api/image/v1/download/get-signed-urls', {
        image_ids: imageIds,
      }),

    /** Polls the status route until the upload leaves `pending`. */
    async waitForFinal(imageId: string, timeoutMs = 60_000): Promise<ImageStatusBody> {
      return waitFor(
        async () => {
          const { status, body } = await client.imageStatus(imageId)
          if (status !== 200) throw new Error(`status route answered ${status}: ${JSON.stringify(body)}`)
          const image = body as ImageStatusBody
          return image.status === 'pending' ? undefined : image
        },
        { timeoutMs, intervalMs: 100, description: `final status of ${imageId}` },
      )
    },
  }
  return client
}

export type ApiClient = ReturnType<typeof createApiClient>

/** PUTs the bytes to the presigned URL with exactly the headers the api asked for. */
export async function putUpload(upload: IssuedUpload, bytes: Uint8Array): Promise<void> {
  const response = await fetch(upload.upload_url, { method: 'PUT', headers: upload.upload_headers, body: bytes })
  if (response.status !== 200) {
    throw new Error(`PUT ${upload.image_id} answered ${response.status}: ${await response.text()}`)
  }
}

export async function download(url: string): Promise<{ status: number; contentType: string | null; bytes: Uint8Array }> {
  const response = await fetch(url)
  return { status: response.status, contentType: response.headers.get('content-type'), bytes: new Uint8Array(await response.arrayBuffer()) }
}
