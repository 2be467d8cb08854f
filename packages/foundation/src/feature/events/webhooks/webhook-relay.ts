import { Webhook } from 'standardwebhooks'
import type { Logger } from '../../../common/logger.ts'
import type { EventRecord } from '../event.ts'
import type { AttemptResult, ClaimedDelivery, WebhookOutbox } from './webhook-outbox.ts'

export type WebhookRelayConfig = {
  url: string
  /** `whsec_…` (Standard Webhooks). Never logged. */
  secret: string
  /** Waits (s) after each failed try; when they run out the delivery is given up. */
  retrySchedule: readonly number[]
  timeoutSeconds: number
  concurrency: number
  pollIntervalMs: number
}

/** The webhook body: Standard Webhooks' suggested envelope around the Event (with its owner: one endpoint hears every owner). */
export function webhookBody(event: EventRecord): string {
  return JSON.stringify({
    type: event.type,
    timestamp: event.at.toISOString(),
    data: {
      id: event.id,
      type: event.type,
      subject_id: event.subjectId,
      owner_id: event.ownerId,
      at: event.at.toISOString(),
      data: event.data,
    },
  })
}

/**
 * The outbox relay (processor): enqueue newly visible events, take the due deliveries (one
 * per subject at a time), POST each signed with Standard Webhooks headers, record the try,
 * and schedule the next one. A dead or slow receiver only delays its own deliveries: the
 * pipeline that appends events never waits for it, and nothing is lost until the schedule
 * runs out. The `webhook-id` is the event id, the same on every try.
 */
export function createWebhookRelay(deps: {
  outbox: WebhookOutbox
  config: WebhookRelayConfig
  log: Logger
  fetch?: typeof fetch
  now?: () => Date
  random?: () => number
}) {
  const { config, outbox, log } = deps
  const send = deps.fetch ?? fetch
  const now = deps.now ?? (() => new Date())
  const random = deps.random ?? Math.random
  const signer = new Webhook(config.secret)
  // A try holds its lease well past its timeout, so no other relay takes it meanwhile.
  const leaseMs = config.timeoutSeconds * 2000 + 5000
  let stopping = false
  let running: Promise<void> | undefined
  let wake: (() => void) | undefined

  const nextTry = (attempt: number, retryAfterSeconds: number | undefined): AttemptResult['outcome'] => {
    const wait = config.retrySchedule[attempt - 1]
    if (wait === undefined) return { type: 'dead' }
    // ±20 % jitter, so a receiver coming back is not hit by every retry at once.
    const delayMs = Math.max(wait * 1000 * (0.8 + 0.4 * random()), (retryAfterSeconds ?? 0) * 1000)
    return { type: 'retry', at: new Date(now().getTime() + delayMs) }
  }

  const deliver = async ({ event, attempt }: ClaimedDelivery): Promise<void> => {
    const body = webhookBody(event)
    const sentAt = now()
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'image-service-webhooks',
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
      'webhook-signature': signer.sign(event.id, sentAt, body),
    }
    const started = performance.now()
    let statusCode: number | null = null
    let error: string | null = null
    let retryAfter: number | undefined
    try {
      const response = await send(config.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(config.timeoutSeconds * 1000),
      })
      statusCode = response.status
      const header = Number(response.headers.get('retry-after'))
      retryAfter = Number.isFinite(header) && header > 0 ? Math.min(header, 86_400) : undefined
      await response.body?.cancel()
    } catch (failure) {
      error = failure instanceof Error ? `${failure.name}: ${failure.message}`.slice(0, 300) : 'request failed'
    }
    const delivered = statusCode !== null && statusCode >= 200 && statusCode < 300
    const outcome: AttemptResult['outcome'] = delivered ? { type: 'delivered' } : nextTry(attempt, retryAfter)
    const durationMs = performance.now() - started
    await outbox.record({ eventId: event.id, attempt, statusCode, error, durationMs, outcome })
    const fields = {
      eventId: event.id,
      type: event.type,
      subjectId: event.subjectId,
      attempt,
      statusCode,
      error,
      durationMs: Math.round(durationMs),
    }
    if (outcome.type === 'delivered') log.debug(fields, 'webhook delivered')
    else if (outcome.type === 'retry') log.warn({ ...fields, retryAt: outcome.at.toISOString() }, 'webhook failed; will retry')
    else log.error(fields, 'webhook given up: the retry schedule ran out')
  }

  /** One pass: returns whether there was work, so the loop goes again at once. */
  const tick = async (): Promise<boolean> => {
    const enqueued = await outbox.enqueue(500)
    const claimed = await outbox.claim(config.concurrency, leaseMs)
    await Promise.all(claimed.map(deliver))
    return enqueued > 0 || claimed.length > 0
  }

  const loop = async () => {
    while (!stopping) {
      let busy = false
      try {
        busy = await tick()
      } catch (failure) {
        log.warn({ err: failure }, 'webhook relay pass failed; trying again')
      }
      if (busy || stopping) continue
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, config.pollIntervalMs)
      })
      wake = undefined
    }
  }

  return {
    run(): Promise<void> {
      running ??= loop()
      return running
    },
    /** Finishes the tries in flight (their results are recorded), then stops. */
    async stop(): Promise<void> {
      stopping = true
      wake?.()
      await running
    },
  }
}

export type WebhookRelay = ReturnType<typeof createWebhookRelay>
