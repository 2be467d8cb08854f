import { type DevStack, findFreePort } from '@image-service/devstack'
import { noisePng } from '@image-service/devstack/corpus'
import { startApp } from './app-process.ts'

export type MultipartResult = {
  uploads: number
  sizeBytes: number
  /** Bytes of all uploads over the wall time from the first create to the last `ready`. */
  megabytesPerSecond: number
  /** Per upload: create, every part PUT (in parallel), complete, then polling until ready. */
  medianMs: number
  seconds: number
  failed: number
}

type Part = { part_number: number; upload_url: string; size_bytes: number }

/**
 * The large-file path end to end, as a client drives it: create-multipart-upload, the parts
 * PUT straight to storage in parallel, complete, then the processor validates the object and
 * the status route answers `ready`. Uploads run one after another: the figure is one
 * client's throughput, not the system's under load.
 */
export async function runMultipartScenario(
  stack: DevStack,
  options: { uploads: number; sizeBytes: number; authorization: string; env: Record<string, string> },
): Promise<MultipartResult> {
  const port = await findFreePort()
  const env = { ...stack.env, ...options.env, LOG_LEVEL: 'warn', MAX_UPLOAD_BYTES: String(options.sizeBytes), PROCESSOR_HTTP_PORT: '0' }
  const api = startApp({ name: 'api-multipart', entry: 'apps/api/src/main.ts', env: { ...env, PORT: String(port) } })
  const processor = startApp({ name: 'processor-multipart', entry: 'apps/processor/src/main.ts', env })
  const baseUrl = `http://127.0.0.1:${port}`
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: options.authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await response.text()
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`)
    return JSON.parse(text) as Record<string, unknown>
  }
  try {
    await api.waitForHttp(`${baseUrl}/api/health/readiness`)
    const file = noisePng(options.sizeBytes)
    const durations: number[] = []
    let failed = 0
    const started = performance.now()
    for (let i = 0; i < options.uploads; i++) {
      const t0 = performance.now()
      const created = await call('POST', '/api/image/v1/upload/create-multipart-upload', {
        content_type: 'image/png',
        file_name: `bench-${i}.png`,
        size_bytes: file.length,
      })
      const partSize = created.part_size as number
      const parts = await Promise.all(
        (created.parts as Part[]).map(async (part) => {
          const start = (part.part_number - 1) * partSize
          const put = await fetch(part.upload_url, { method: 'PUT', body: file.subarray(start, start + part.size_bytes) })
          if (put.status !== 200) throw new Error(`part ${part.part_number} answered ${put.status}`)
          return { part_number: part.part_number, etag: put.headers.get('etag') ?? '' }
        }),
      )
      const imageId = created.image_id as string
      await call('POST', '/api/image/v1/upload/complete-multipart-upload', { image_id: imageId, parts })
      const status = await processor.whileRunning(waitForFinal(call, imageId), `upload ${imageId} to be decided`)
      if (status !== 'ready') failed++
      durations.push(performance.now() - t0)
    }
    const seconds = (performance.now() - started) / 1000
    durations.sort((a, b) => a - b)
    return {
      uploads: options.uploads,
      sizeBytes: options.sizeBytes,
      megabytesPerSecond: Math.round(((options.uploads * options.sizeBytes) / 1e6 / seconds) * 10) / 10,
      medianMs: Math.round(durations[Math.floor(durations.length / 2)] ?? 0),
      seconds: Math.round(seconds * 100) / 100,
      failed,
    }
  } finally {
    await Promise.all([api.stop(), processor.stop()])
  }
}

/** Polls the status route until the upload leaves `pending` (the processor decides). */
async function waitForFinal(call: (method: string, path: string) => Promise<Record<string, unknown>>, imageId: string): Promise<string> {
  for (;;) {
    const image = await call('GET', `/api/image/v1/images/${imageId}`)
    if (image.status !== 'pending') return image.status as string
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
