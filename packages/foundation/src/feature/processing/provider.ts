/**
 * Port: the AI provider's queue (fal.ai). The runner depends on this; the fal adapter and the
 * unit tests' fake implement it.
 */
export type ProviderStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED'

/** One output the provider says it made: untrusted, downloaded with bounds, then validated. */
export type ProviderOutput = { url: string; contentType?: string | undefined }

export interface ProcessingProvider {
  submit(model: string, input: Record<string, unknown>, options: { webhookUrl?: string | undefined }): Promise<{ requestId: string }>
  status(model: string, requestId: string): Promise<ProviderStatus>
  /** The outputs of a completed request; ProviderError `rejected` when the request failed. */
  result(model: string, requestId: string): Promise<ProviderOutput[]>
  cancel(model: string, requestId: string): Promise<void>
}

/**
 * `transient`: 429, 5xx, network (after the client's own retries): retried with backoff, and
 * counted by the circuit breaker. `rejected`: the provider refused the input (422) or failed
 * it: the job fails with the provider's message.
 */
export class ProviderError extends Error {
  readonly kind: 'transient' | 'rejected'
  readonly status: number | undefined
  constructor(kind: 'transient' | 'rejected', message: string, options: { status?: number | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ProviderError'
    this.kind = kind
    this.status = options.status
  }
}
