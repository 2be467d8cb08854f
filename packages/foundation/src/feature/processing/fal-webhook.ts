import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto'
import { AppError } from '../../common/errors.ts'
import type { Logger } from '../../common/logger.ts'
import type { QueueSender } from '../../shared/queue/sqs-sender.ts'
import type { JobMessage } from './job-message.ts'
import type { JobRepository } from './job-repository.ts'

export class InvalidWebhookSignatureError extends AppError {
  constructor(detail: string) {
    super('unauthenticated', 'INVALID_SIGNATURE', `fal webhook refused: ${detail}`)
  }
}

/** The four headers fal signs with (docs.fal.ai, "webhooks"). */
export type FalWebhookHeaders = {
  requestId: string | undefined
  userId: string | undefined
  timestamp: string | undefined
  signature: string | undefined
}

const TOLERANCE_SECONDS = 300
const KEYS_MAX_AGE_MS = 24 * 60 * 60 * 1000
// A signature no cached key verifies refetches the key set, at most this often (key rotation).
const REFETCH_COOLDOWN_MS = 30_000

/**
 * Verifies fal's webhook signature: hex Ed25519 over
 * `request_id \n user_id \n timestamp \n hex(sha256(raw body))`, with any key of the JWKS
 * (OKP/Ed25519), the timestamp within ±5 minutes. Keys are cached up to 24 h.
 */
export function createFalWebhookVerifier(options: { jwksUrl: string; now?: () => number; fetch?: typeof fetch; log?: Logger }) {
  const now = options.now ?? Date.now
  let keys: KeyObject[] = []
  let fetchedAt = Number.NEGATIVE_INFINITY

  const load = async () => {
    const response = await (options.fetch ?? fetch)(options.jwksUrl, { signal: AbortSignal.timeout(5000) })
    if (!response.ok) throw new Error(`JWKS answered ${response.status}`)
    const body = (await response.json()) as { keys?: { kty?: string; crv?: string; x?: string }[] }
    keys = (body.keys ?? [])
      .filter((k) => k.kty === 'OKP' && k.crv === 'Ed25519' && typeof k.x === 'string')
      .map((k) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k.x as string }, format: 'jwk' }))
    fetchedAt = now()
  }
  const keySet = async (refresh: boolean) => {
    const age = now() - fetchedAt
    if (age > KEYS_MAX_AGE_MS || (refresh && age > REFETCH_COOLDOWN_MS)) {
      await load().catch((error: unknown) => {
        options.log?.warn({ reason: (error as Error).message }, 'fal webhook keys could not be fetched')
        if (keys.length === 0) throw new InvalidWebhookSignatureError('no verification keys available')
      })
    }
    return keys
  }

  return async (headers: FalWebhookHeaders, rawBody: Uint8Array): Promise<{ requestId: string }> => {
    const { requestId, userId, timestamp, signature } = headers
    if (!requestId || !userId || !timestamp || !signature) throw new InvalidWebhookSignatureError('signature headers missing')
    if (!/^\d{1,12}$/.test(timestamp)) throw new InvalidWebhookSignatureError('malformed timestamp')
    if (Math.abs(now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS)
      throw new InvalidWebhookSignatureError('timestamp outside ±5 minutes')
    if (!/^[0-9a-f]{128}$/i.test(signature)) throw new InvalidWebhookSignatureError('malformed signature')
    const message = Buffer.from([requestId, userId, timestamp, createHash('sha256').update(rawBody).digest('hex')].join('\n'))
    const bytes = Buffer.from(signature, 'hex')
    const matches = (set: KeyObject[]) => set.some((key) => verify(null, message, key, bytes))
    if (matches(await keySet(false)) || matches(await keySet(true))) return { requestId }
    throw new InvalidWebhookSignatureError('signature does not verify')
  }
}

export type FalWebhookVerifier = ReturnType<typeof createFalWebhookVerifier>

/**
 * POST processing/webhooks/fal: verified, then deduplicated by request_id (fal retries a
 * webhook up to 10 times), then handed to the jobs queue as a wake-up for the job. The runner
 * reads the outcome from fal's queue with its own key, so the webhook body is never what an
 * output is taken from. A request id that is not one of our jobs (yet) is acknowledged and
 * kept: the runner, once it stores that id, sees the webhook came and follows the job at once.
 */
export function createReceiveFalWebhook(deps: {
  verify: FalWebhookVerifier
  jobs: JobRepository
  queue: QueueSender<JobMessage> | undefined
  log?: Logger
}) {
  return async (headers: FalWebhookHeaders, rawBody: Uint8Array): Promise<'accepted' | 'duplicate' | 'ignored'> => {
    const { requestId } = await deps.verify(headers, rawBody)
    const body = parseBody(rawBody)
    if (body?.request_id !== undefined && body.request_id !== requestId)
      throw new InvalidWebhookSignatureError('body and header request ids differ')
    if (deps.queue === undefined) return 'ignored'
    const job = await deps.jobs.findByProviderRequestId(requestId)
    if (job === null) {
      // Early (fal answered before the runner stored the request id) or not ours: kept, and the
      // runner looks again for it once the id is stored. Recorded before that second lookup,
      // so the runner either finds the record or this lookup finds its job.
      await deps.jobs.recordWebhook(requestId, null)
      const stored = await deps.jobs.findByProviderRequestId(requestId)
      if (stored === null) return 'ignored'
      return wake(requestId, stored.id, body?.status)
    }
    if (!(await deps.jobs.recordWebhook(requestId, job.id))) return 'duplicate'
    return wake(requestId, job.id, body?.status)
  }

  async function wake(requestId: string, jobId: string, status: string | undefined): Promise<'accepted'> {
    if (deps.queue === undefined) throw new Error('no jobs queue')
    try {
      await deps.queue.sendMessage({ type: 'job', job_id: jobId, reason: 'webhook' })
    } catch (error) {
      // Not handed on: forget it, so fal's retry of this webhook is taken.
      await deps.jobs.forgetWebhook(requestId)
      throw error
    }
    deps.log?.info({ jobId, requestId, status }, 'fal webhook accepted')
    return 'accepted'
  }
}

function parseBody(raw: Uint8Array): { request_id?: string; status?: string } | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw).toString('utf8'))
    return typeof parsed === 'object' && parsed !== null ? (parsed as { request_id?: string; status?: string }) : undefined
  } catch {
    return undefined
  }
}
