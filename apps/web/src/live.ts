import { type ImageServiceClient, type ImageServiceEvent, readSse } from '@image-service/client'

export type LiveState = 'connecting' | 'live' | 'reconnecting'

export type LiveHandlers = {
  /** Each event of the caller (image.*, job.*), in delivery order. */
  onEvent(event: ImageServiceEvent): void
  /**
   * The stream is open and subscribed. `replayed`: it was reopened with the last event id
   * seen, so the api sends what happened meanwhile; otherwise (the first time, or a drop
   * before any event came) the caller reads again what it shows.
   */
  onOpen(replayed: boolean): void
  onState(state: LiveState): void
}

const MAX_BACKOFF_MS = 15_000

/**
 * The caller's events over one Server-Sent Events stream for the whole page (a fetch stream
 * with the bearer header, not EventSource): reopened after a drop with `Last-Event-ID`, so
 * the api replays what happened meanwhile. Ends when `signal` aborts.
 */
export async function followEvents(client: ImageServiceClient, handlers: LiveHandlers, signal: AbortSignal): Promise<void> {
  let lastId: string | undefined
  let backoff = 500
  handlers.onState('connecting')
  while (!signal.aborted) {
    try {
      const { response } = await client.GET('/api/image/v1/events/stream', {
        parseAs: 'stream',
        signal,
        params: { header: lastId === undefined ? {} : { 'last-event-id': lastId } },
      })
      const type = response.headers.get('content-type') ?? ''
      if (!response.ok || !type.startsWith('text/event-stream') || response.body === null) {
        await response.body?.cancel()
        throw new Error(`events stream answered ${response.status}`)
      }
      handlers.onState('live')
      handlers.onOpen(lastId !== undefined)
      backoff = 500
      for await (const message of readSse(response.body)) {
        lastId = message.id ?? lastId
        const event = parseEvent(message.data)
        if (event) handlers.onEvent(event)
      }
    } catch {
      // A dropped or refused stream is retried below; an abort ends the loop.
    }
    if (signal.aborted) return
    handlers.onState('reconnecting')
    await pause(backoff, signal)
    backoff = Math.min(MAX_BACKOFF_MS, backoff * 2)
  }
}

function parseEvent(data: string): ImageServiceEvent | undefined {
  try {
    const value: unknown = JSON.parse(data)
    if (typeof value !== 'object' || value === null) return undefined
    const { type, subject_id } = value as { type?: unknown; subject_id?: unknown }
    return typeof type === 'string' && typeof subject_id === 'string' ? (value as ImageServiceEvent) : undefined
  } catch {
    return undefined
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true },
    )
  })
}
