import { AppError } from '../../common/errors.ts'

/**
 * Where an event sits in delivery order: the transaction that wrote it, then its sequence id.
 * Every reader walks events in this order and only below the visibility line (see the
 * migration 0012): nothing can ever be inserted behind a position already read.
 */
export type EventPosition = { xid: bigint; seq: bigint }

/** One entry of the event log. The type is open: images and jobs both append (`image.*`, `job.*`). */
export type EventRecord = {
  /** The public id, `<xid>-<seq>`: the SSE `id:`, the list cursor and the `webhook-id`. */
  id: string
  position: EventPosition
  type: string
  subjectId: string
  ownerId: string
  at: Date
  data: Record<string, unknown>
}

/** The start of the log: before every event. */
export const LOG_START: EventPosition = { xid: 0n, seq: 0n }

export function formatEventId(position: EventPosition): string {
  return `${position.xid}-${position.seq}`
}

const EVENT_ID = /^(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,18})$/
const MAX_XID = 2n ** 64n - 1n
const MAX_SEQ = 2n ** 63n - 1n

/** An id this service gave out (an event's id, `next_cursor`, `Last-Event-ID`), or INVALID_CURSOR. */
export function parseEventId(text: string): EventPosition {
  const match = EVENT_ID.exec(text)
  const position = match === null ? undefined : { xid: BigInt(match[1] ?? ''), seq: BigInt(match[2] ?? '') }
  if (position === undefined || position.xid > MAX_XID || position.seq > MAX_SEQ) {
    throw new AppError('invalid', 'INVALID_CURSOR', 'an event id (or cursor) must be one this service gave out, such as "812-40"')
  }
  return position
}

export function isAfter(a: EventPosition, b: EventPosition): boolean {
  return a.xid > b.xid || (a.xid === b.xid && a.seq > b.seq)
}
