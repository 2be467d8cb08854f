import type { EventPosition, EventRecord } from './event.ts'

/** Reads the event log in delivery order, only what is final (below the visibility line). */
export interface EventLog {
  /** Events after `after`, oldest first; one owner's, or everyone's when ownerId is null. */
  listAfter(query: { ownerId: string | null; after: EventPosition; limit: number }): Promise<EventRecord[]>
  /** The position of the newest visible event (LOG_START when there is none). */
  head(): Promise<EventPosition>
}
