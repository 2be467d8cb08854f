import { randomUUID } from 'node:crypto'
import postgres from 'postgres'
import type { Logger } from '../../common/logger.ts'

/** The channel migrations/0014_ready_record_changes.sql announces on. */
export const READY_RECORD_CHANGES_CHANNEL = 'image_record_changes'

export type RecordChangeHandlers = {
  /** A ready record changed or went (its id), in any process. */
  changed(id: string): void
  /** Announcements may be missed from now on. */
  down(): void
  /** Announcements arrive (a heartbeat came back): from now on none is missed until down(). */
  up(): void
}

export type RecordChangeListener = {
  /** Resolves at the first up() (and never, should announcements never arrive). */
  heard: Promise<void>
  close(): Promise<void>
}

/** Sends `payload` on READY_RECORD_CHANGES_CHANNEL through a pool (the heartbeat's way out). */
export function announceThrough(pool: postgres.Sql): (payload: string) => Promise<unknown> {
  return (payload) => pool`SELECT pg_notify(${READY_RECORD_CHANGES_CHANNEL}, ${payload})`
}

const HEARTBEAT = 'heartbeat:'

/**
 * Listens on READY_RECORD_CHANGES_CHANNEL over a connection of its own (LISTEN holds one: it
 * cannot share the pool), and proves the way end to end: right after each LISTEN, and then
 * every `heartbeatMs`, it announces a heartbeat of its own through `announce` (the pool the
 * changes are written through) and is `up()` only once that heartbeat came back. A heartbeat
 * that has not come back when the next is due, or the connection closing, is `down()` at
 * once. So a listener that hears nothing (a half-open socket, a pooler in transaction mode
 * that does not keep LISTEN, a listen URL that reaches another database) is down, never up.
 * A closed connection is listened on again every `retryMs` until LISTEN succeeds.
 */
export function listenForRecordChanges(
  options: {
    url: string
    announce: (payload: string) => Promise<unknown>
    heartbeatMs?: number
    connectTimeoutSeconds?: number
    retryMs?: number
    log?: Logger
  },
  handlers: RecordChangeHandlers,
): RecordChangeListener {
  const retryMs = options.retryMs ?? 1000
  const heartbeatMs = options.heartbeatMs ?? 5000
  const self = `${HEARTBEAT}${randomUUID()}:`
  let closed = false
  let listening = false
  let up = false
  let everUp = false
  let sent = 0
  /** The heartbeat awaited, if any. */
  let awaited: string | undefined
  let retry: NodeJS.Timeout | undefined
  let firstUp = () => {}
  const first = new Promise<void>((resolve) => {
    firstUp = resolve
  })
  const goDown = (why: string) => {
    if (!up) return
    up = false
    handlers.down()
    options.log?.warn(`image record changes: ${why}; records are read from the database until they arrive again`)
  }
  // Heartbeats in a row that did not come back; a listener that never heard one says so once.
  let unanswered = 0
  const beat = () => {
    if (closed || !listening) return
    if (awaited !== undefined) {
      unanswered++
      goDown('a heartbeat did not come back (is DATABASE_LISTEN_URL a session, not a transaction-mode pool?)')
      if (unanswered === 3 && !everUp)
        options.log?.warn(
          'image record changes: no heartbeat has come back since start (is DATABASE_LISTEN_URL a session, not a transaction-mode pool?); records are read from the database',
        )
    }
    const payload = `${self}${++sent}`
    awaited = payload
    options.announce(payload).catch((error: unknown) => options.log?.debug({ err: error }, 'image record changes: heartbeat not sent'))
  }
  const heartbeats = setInterval(beat, heartbeatMs)
  heartbeats.unref()

  // postgres.js hands every NOTIFY to `onnotify` (its own listen() is built on it); the option
  // is not in its types. Its listen() is not used: it re-listens once after a lost connection
  // and, should that fail, gives up without a word.
  const connectionOptions: postgres.Options<Record<string, never>> & { onnotify(channel: string, payload: string): void } = {
    max: 1,
    connect_timeout: options.connectTimeoutSeconds ?? 5,
    // The connection lives as long as the process: never closed while idle, never recycled.
    max_lifetime: null,
    fetch_types: false,
    onnotice: () => {},
    onnotify(channel, payload) {
      if (channel !== READY_RECORD_CHANGES_CHANNEL) return
      if (!payload.startsWith(HEARTBEAT)) return handlers.changed(payload)
      if (payload !== awaited || closed) return
      awaited = undefined
      unanswered = 0
      if (up) return
      up = true
      everUp = true
      handlers.up()
      firstUp()
    },
    onclose() {
      if (closed) return
      listening = false
      awaited = undefined
      goDown('the listening connection was lost')
      schedule()
    },
  }
  const sql = postgres(options.url, connectionOptions)

  const attempt = async () => {
    retry = undefined
    if (closed || listening) return
    try {
      await sql.unsafe(`LISTEN ${READY_RECORD_CHANGES_CHANNEL}`)
      if (closed) return
      listening = true
      awaited = undefined
      beat()
    } catch (error) {
      options.log?.debug({ err: error }, 'image record changes: LISTEN failed; trying again')
      schedule()
    }
  }
  const schedule = () => {
    if (closed || retry !== undefined) return
    retry = setTimeout(() => void attempt(), retryMs)
    retry.unref()
  }
  void attempt()

  return {
    heard: first,
    async close() {
      closed = true
      clearInterval(heartbeats)
      if (retry !== undefined) clearTimeout(retry)
      listening = false
      if (up) {
        up = false
        handlers.down()
      }
      await sql.end({ timeout: 1 })
    },
  }
}
