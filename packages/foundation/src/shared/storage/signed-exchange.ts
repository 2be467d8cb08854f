import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { setTimeout as delay } from 'node:timers/promises'
import type { SignatureV4 } from '@smithy/signature-v4'

/** Where the requests of one exchange go: what the SDK resolved for the service. */
export type ExchangeEndpoint = { protocol: string; hostname: string; port?: number | undefined }

export type SignedRequest = {
  method: string
  path: string
  headers: Record<string, string>
  body?: Uint8Array | undefined
}

/** A non-2xx answer to a request made without the SDK client: its status, and the service's error code when the answer had one. */
export class AnswerError extends Error {
  readonly status: number
  readonly code: string | undefined
  constructor(status: number, code: string | undefined, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export type SignedExchangeOptions = {
  signer: SignatureV4
  endpoint: ExchangeEndpoint
  /** The error for a non-2xx answer, from its status and (unread) body. */
  answerError: (method: string, status: number, response: IncomingMessage) => Promise<AnswerError>
  /** An idle socket (no bytes either way) for this long fails the try. */
  socketTimeoutMs?: number | undefined
  /** Tries per call, the first included. */
  maxAttempts?: number | undefined
  /** Base of the exponential backoff between tries; each wait is random up to base * 2^try. */
  backoffBaseMs?: number | undefined
}

/** Sends a request signed by the SDK's SigV4; resolves with a 2xx response whose body is still to be read. */
export type SignedExchange = (request: SignedRequest) => Promise<IncomingMessage>

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504])

/**
 * One AWS endpoint's requests made without the SDK client: signed by the SDK's own
 * `SignatureV4` (with the client's credentials), sent over one keep-alive agent. A dropped
 * connection or a 429/5xx answer is tried again (three tries by default) with jittered
 * backoff; any other answer rejects at once with `answerError`'s error.
 */
export function createSignedExchange(options: SignedExchangeOptions): SignedExchange {
  const { signer, endpoint, answerError } = options
  const https = endpoint.protocol === 'https:'
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 50 }) : new HttpAgent({ keepAlive: true, maxSockets: 50 })
  const send = https ? httpsRequest : httpRequest
  const host = endpoint.port === undefined ? endpoint.hostname : `${endpoint.hostname}:${endpoint.port}`
  const socketTimeoutMs = options.socketTimeoutMs ?? 60_000
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3)
  const backoffBaseMs = options.backoffBaseMs ?? 100

  async function once({ method, path, headers, body }: SignedRequest): Promise<IncomingMessage> {
    const signed = await signer.sign({
      method,
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      port: endpoint.port,
      path,
      query: {},
      headers: { host, ...headers, ...(body === undefined ? {} : { 'content-length': String(body.byteLength) }) },
      body,
    })
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(
        {
          agent,
          method,
          hostname: endpoint.hostname,
          port: endpoint.port,
          path: signed.path,
          headers: signed.headers,
          timeout: socketTimeoutMs,
        },
        async (response) => {
          const status = response.statusCode ?? 0
          if (status >= 200 && status < 300) return resolve(response)
          reject(await answerError(method, status, response))
        },
      )
      req.on('timeout', () => req.destroy(new Error(`no bytes from ${endpoint.hostname} for ${socketTimeoutMs} ms`)))
      req.on('error', reject)
      req.end(body)
    })
  }

  return async (request) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(request)
      } catch (error) {
        const retryable = !(error instanceof AnswerError) || RETRYABLE_STATUS.has(error.status)
        if (!retryable || attempt >= maxAttempts) throw error
        await delay(Math.random() * backoffBaseMs * 2 ** (attempt - 1))
      }
    }
  }
}

/** An error answer's body as text, read up to `limit` characters; a body that breaks off gives what arrived. */
export async function readErrorBody(response: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let text = ''
  try {
    for await (const chunk of response) {
      text += Buffer.from(chunk).toString('utf8')
      if (text.length >= limit) break
    }
  } catch {
    // the status alone still classifies the answer
  }
  return text
}
