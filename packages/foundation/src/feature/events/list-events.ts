import type { RequestContext } from '../../shared/identity/request-context.ts'
import { pageScope } from '../image/library/page.ts'
import { type EventRecord, LOG_START, parseEventId } from './event.ts'
import type { EventLog } from './event-log.ts'

export type ListEventsQuery = { after?: string | undefined; limit?: number | undefined }

/**
 * `nextCursor` is the last id of the page, or, on an empty page, the `after` that was asked
 * for: a client that tails the log passes it back forever and never misses an event.
 */
export type EventPage = { items: EventRecord[]; nextCursor: string | null }

/** Query: the caller's events, oldest first, after an id (exclusive). Only ever the caller's own. */
export function createListEvents(deps: { events: EventLog }) {
  return async (ctx: RequestContext, query: ListEventsQuery): Promise<EventPage> => {
    const { ownerId, limit } = pageScope(ctx, { limit: query.limit })
    const after = query.after === undefined ? LOG_START : parseEventId(query.after)
    const items = await deps.events.listAfter({ ownerId, after, limit })
    return { items, nextCursor: items.at(-1)?.id ?? query.after ?? null }
  }
}

export type ListEvents = ReturnType<typeof createListEvents>
