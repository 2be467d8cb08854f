import type { Logger } from '../../common/logger.ts'
import type { EventPosition, EventRecord } from './event.ts'
import type { EventLog } from './event-log.ts'

export type EventListener = {
  ownerId: string
  /** A newly visible event of this owner, in delivery order. */
  deliver(event: EventRecord): void
  /** The hub stops (shutdown): the stream ends and the client reconnects elsewhere. */
  end(): void
}

export type EventHub = {
  /**
   * Resolves once the hub follows the log, so everything visible after that reaches the
   * listener: a stream subscribes first, then replays, and loses nothing in between.
   */
  subscribe(listener: EventListener): Promise<() => void>
  close(): void
}

/**
 * The live half of the event stream: one poller per process reads everyone's newly visible
 * events (one indexed query per interval, only while someone listens) and hands each to the
 * streams of its owner. One query for all streams, rather than one per stream. Writers pay
 * nothing for it: no trigger, no NOTIFY (whose commit-time lock would serialise every
 * transaction that appends an event).
 */
export function createEventHub(deps: { events: EventLog; pollIntervalMs: number; batchSize?: number; log: Logger }): EventHub {
  const batchSize = deps.batchSize ?? 500
  const listeners = new Set<EventListener>()
  let cursor: Promise<EventPosition> | undefined
  let timer: NodeJS.Timeout | undefined
  let closed = false

  const poll = async () => {
    timer = undefined
    if (cursor === undefined || listeners.size === 0) return
    let full = false
    try {
      let after = await cursor
      const batch = await deps.events.listAfter({ ownerId: null, after, limit: batchSize })
      for (const event of batch) {
        for (const listener of listeners) if (listener.ownerId === event.ownerId) listener.deliver(event)
        after = event.position
      }
      cursor = Promise.resolve(after)
      full = batch.length === batchSize
    } catch (error) {
      deps.log.warn({ err: error }, 'event stream poll failed; trying again')
    }
    schedule(full ? 0 : deps.pollIntervalMs)
  }
  const schedule = (delayMs: number) => {
    if (closed || timer !== undefined || listeners.size === 0) return
    timer = setTimeout(() => void poll(), delayMs)
  }

  return {
    async subscribe(listener) {
      if (closed) {
        listener.end()
        return () => {}
      }
      listeners.add(listener)
      // The first listener starts the hub at the head of the log; later ones join it there.
      if (cursor === undefined) {
        cursor = deps.events.head()
        cursor.catch(() => {
          cursor = undefined
        })
      }
      try {
        await cursor
      } catch (error) {
        listeners.delete(listener)
        throw error
      }
      schedule(deps.pollIntervalMs)
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) {
          // Idle: stop polling; the next listener starts again from the head.
          if (timer !== undefined) clearTimeout(timer)
          timer = undefined
          cursor = undefined
        }
      }
    },
    close() {
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      for (const listener of listeners) listener.end()
      listeners.clear()
    },
  }
}
