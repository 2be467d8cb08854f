import type { EventRecord } from '../event.ts'

/** A delivery the relay took for one try: `attempt` counts from 1, the same event (and webhook-id) on every try. */
export type ClaimedDelivery = { event: EventRecord; attempt: number }

export type AttemptResult = {
  eventId: string
  attempt: number
  statusCode: number | null
  error: string | null
  durationMs: number
  /** delivered; retry at the given time; or given up (dead). */
  outcome: { type: 'delivered' } | { type: 'retry'; at: Date } | { type: 'dead' }
}

/** The webhook relay's storage: its outbox of deliveries and the record of every try. */
export interface WebhookOutbox {
  /** Copies newly visible events, in order, into deliveries; returns how many. */
  enqueue(limit: number): Promise<number>
  /**
   * Takes due deliveries for one try, at most one per subject (its oldest pending one, so
   * a subject's webhooks go out in order), leased for `leaseMs` so no other relay takes them.
   */
  claim(limit: number, leaseMs: number): Promise<ClaimedDelivery[]>
  record(result: AttemptResult): Promise<void>
}
