import { type RequestContext, requireUser } from '../../shared/identity/request-context.ts'
import { type EventPosition, type EventRecord, isAfter, parseEventId } from './event.ts'
import type { EventHub } from './event-hub.ts'
import type { EventLog } from './event-log.ts'

/** Past this many events waiting for a slow client, its stream ends; it resumes with Last-Event-ID. */
const MAX_BACKLOG = 10_000

export type FollowEventsQuery = {
  /** `Last-Event-ID`: replay everything after it first. Unset: only what happens from now on. */
  lastEventId?: string | undefined
  /** Aborted when the client goes away. */
  signal: AbortSignal
}

/**
 * Query: the caller's events as an endless, ordered sequence with no gap and no duplicate:
 * subscribe to the live hub first, then replay from the log after `lastEventId`, then pass on
 * live events that come after the last one sent. It ends when the client leaves, the hub
 * closes (shutdown) or the client falls MAX_BACKLOG events behind.
 */
export function createFollowEvents(deps: { events: EventLog; hub: EventHub; replayPageSize?: number }) {
  const pageSize = deps.replayPageSize ?? 500
  return async (ctx: RequestContext, query: FollowEventsQuery): Promise<AsyncGenerator<EventRecord>> => {
    const { ownerId } = requireUser(ctx)
    const from = query.lastEventId === undefined ? undefined : parseEventId(query.lastEventId)
    const backlog: EventRecord[] = []
    let wake: (() => void) | undefined
    let ended = false
    const stop = () => {
      ended = true
      wake?.()
    }
    const unsubscribe = await deps.hub.subscribe({
      ownerId,
      deliver(event) {
        backlog.push(event)
        if (backlog.length > MAX_BACKLOG) stop()
        wake?.()
      },
      end: stop,
    })
    query.signal.addEventListener('abort', stop, { once: true })
    let cursor: EventPosition
    try {
      cursor = from ?? (await deps.events.head())
    } catch (error) {
      unsubscribe()
      throw error
    }

    async function* run(): AsyncGenerator<EventRecord> {
      try {
        for (;;) {
          const page = await deps.events.listAfter({ ownerId, after: cursor, limit: pageSize })
          for (const event of page) {
            if (ended) return
            yield event
            cursor = event.position
          }
          if (page.length < pageSize) break
        }
        while (!ended) {
          const event = backlog.shift()
          if (event === undefined) {
            await new Promise<void>((resolve) => {
              wake = resolve
            })
            wake = undefined
            continue
          }
          if (!isAfter(event.position, cursor)) continue
          yield event
          cursor = event.position
        }
      } finally {
        query.signal.removeEventListener('abort', stop)
        unsubscribe()
      }
    }
    return run()
  }
}

export type FollowEvents = ReturnType<typeof createFollowEvents>
