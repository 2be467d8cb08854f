import { ApiError, createFalClient, type RequestMiddleware } from '@fal-ai/client'
import { type ProcessingProvider, type ProviderOutput, ProviderError, type ProviderStatus } from './provider.ts'

export type FalProviderOptions = {
  /** FAL_KEY (secret): sent as `Authorization: Key …`, never logged, never in an error message. */
  key: string
  /** FAL_BASE_URL: every request the client makes to https://queue.fal.run (or fal.run) goes here instead. */
  baseUrl?: string | undefined
  /** Sees every request the client dispatches, its own retries included (metrics, tests). */
  onRequest?: ((request: { method: string; url: string }) => void) | undefined
}

const FAL_HOST = /^https:\/\/(queue\.)?fal\.run/

/**
 * The fal adapter, over @fal-ai/client's queue. The client retries 429 and 5xx by itself
 * (about 1 + 2 + 4 s) and cannot be told not to; what reaches us after that is classified
 * here: transient (retry with backoff, breaker) or rejected (the job fails).
 */
export function createFalProvider(options: FalProviderOptions): ProcessingProvider {
  const base = options.baseUrl?.replace(/\/+$/, '')
  const requestMiddleware: RequestMiddleware = async (request) => {
    const rewritten = base === undefined ? request : { ...request, url: request.url.replace(FAL_HOST, base) }
    options.onRequest?.({ method: rewritten.method, url: rewritten.url })
    return rewritten
  }
  const fal = createFalClient({ credentials: options.key, requestMiddleware, suppressLocalCredentialsWarning: true })
  const redact = (text: string) => (options.key.length > 0 ? text.split(options.key).join('[FAL_KEY]') : text)
  const call = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (error) {
      throw classify(error, redact)
    }
  }

  return {
    async submit(model, input, { webhookUrl }) {
      const queued = await call(() => fal.queue.submit(model, { input, ...(webhookUrl === undefined ? {} : { webhookUrl }) }))
      return { requestId: queued.request_id }
    },
    async status(model, requestId) {
      const status = await call(() => fal.queue.status(model, { requestId, logs: false }))
      return status.status as ProviderStatus
    },
    async result(model, requestId) {
      const result = await call(() => fal.queue.result(model, { requestId }))
      return outputsOf(result.data)
    },
    async cancel(model, requestId) {
      await call(() => fal.queue.cancel(model, { requestId }))
    },
  }
}

const TRANSIENT = new Set([401, 403, 408, 429])

function classify(error: unknown, redact: (text: string) => string): ProviderError {
  if (error instanceof ProviderError) return error
  if (error instanceof ApiError) {
    const status = error.status
    // A bad key (401/403) fails every job alike: the jobs wait behind the breaker while an
    // operator fixes it, instead of all failing.
    const transient = status >= 500 || TRANSIENT.has(status)
    return new ProviderError(transient ? 'transient' : 'rejected', redact(providerMessage(error)), { status })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new ProviderError('transient', redact(`fal unreachable: ${message}`))
}

/** A 422's `detail` ([{loc, msg}] or a string) says what was wrong; else the body's message. */
function providerMessage(error: ApiError<unknown>): string {
  const body = error.body as { detail?: unknown; message?: unknown } | undefined
  const detail = body?.detail
  if (typeof detail === 'string') return detail
  if (Array.isArray(detail)) {
    const parts = detail.map((d: { loc?: unknown; msg?: unknown }) => {
      const where = Array.isArray(d.loc) ? d.loc.join('.') : undefined
      return where === undefined ? String(d.msg ?? '') : `${where}: ${String(d.msg ?? '')}`
    })
    if (parts.length > 0) return parts.join('; ')
  }
  if (typeof body?.message === 'string') return body.message
  return error.message
}

/** `images: [{url, content_type}]` or `image: {url}`: anything else is not an output we can use. */
function outputsOf(data: unknown): ProviderOutput[] {
  const record = (data ?? {}) as { images?: unknown; image?: unknown }
  const list = Array.isArray(record.images) ? record.images : record.image === undefined ? [] : [record.image]
  const outputs = list.flatMap((item: unknown): ProviderOutput[] => {
    const { url, content_type } = (item ?? {}) as { url?: unknown; content_type?: unknown }
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return []
    return [{ url, contentType: typeof content_type === 'string' ? content_type : undefined }]
  })
  if (outputs.length === 0) throw new ProviderError('rejected', 'the provider returned no image outputs')
  return outputs
}
