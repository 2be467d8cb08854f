import type { ImageServiceClient } from './client.ts'
import { readSse } from './sse.ts'
import type { ImageServiceEvent } from './types.ts'

export type WaitOptions = {
  signal?: AbortSignal
  /** Give up after this long: rejects with a `TimeoutError` DOMException. Default: no limit. */
  timeoutMs?: number
  /** Follow the events stream (default true); false polls the status route only. */
  events?: boolean
  /** First polling interval, doubled after each unchanged answer up to `maxPollIntervalMs`. Default 250. */
  pollIntervalMs?: number
  /** Default 5000. */
  maxPollIntervalMs?: number
  /**
   * A stream that sends nothing this long, not even the api's heartbeat (every 15 s by
   * default), is taken as dropped: a proxy buffering it would otherwise hide every event.
   * Default 45000.
   */
  streamIdleMs?: number
}

/** A stream that keeps ending without telling us anything is given up for polling after this many drops in a row. */
const MAX_STREAM_DROPS = 3

/**
 * Resolves with the first final state of one image or job: opens the events stream, reads the
 * state once it is subscribed (so a change between the two is never missed), then reads it
 * again on each event about the subject. Without a stream (a proxy that buffers it, an old
 * api, a network that drops it), it polls the status route with backoff.
 */
export async function waitForFinal<T>(
  client: ImageServiceClient,
  target: { subjectId: string; read: (signal: AbortSignal) => Promise<T>; isFinal: (state: T) => boolean },
  options: WaitOptions,
): Promise<T> {
  const signals = [options.signal, options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs)]
  const signal = AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined))
  const streams = new AbortController()
  const stopStreams = () => streams.abort(signal.reason)
  signal.addEventListener('abort', stopStreams, { once: true })
  try {
    if (options.events !== false) {
      for (let drops = 0; drops < MAX_STREAM_DROPS; ) {
        const body = await openStream(client, streams.signal)
        if (body === undefined) break
        const state = await target.read(signal)
        if (target.isFinal(state)) return state
        const found = await untilFinal(withIdleLimit(body, options.streamIdleMs ?? 45_000, streams.signal), target, signal)
        if (found.state !== undefined) return found.state
        drops = found.messages > 0 ? 0 : drops + 1
      }
    }
    return await poll(target, signal, options)
  } catch (error) {
    throw signal.aborted ? signal.reason : error
  } finally {
    signal.removeEventListener('abort', stopStreams)
    streams.abort()
  }
}

/** The stream's body once the api subscribed us, or undefined when it is not available. */
async function openStream(client: ImageServiceClient, signal: AbortSignal): Promise<ReadableStream<Uint8Array> | undefined> {
  try {
    const { response } = await client.GET('/api/image/v1/events/stream', { parseAs: 'stream', signal })
    const type = response.headers.get('content-type') ?? ''
    if (response.ok && type.startsWith('text/event-stream') && response.body !== null) return response.body
    await response.body?.cancel()
    return undefined
  } catch (error) {
    if (signal.aborted) throw error
    return undefined
  }
}

async function untilFinal<T>(
  body: ReadableStream<Uint8Array>,
  target: { subjectId: string; read: (signal: AbortSignal) => Promise<T>; isFinal: (state: T) => boolean },
  signal: AbortSignal,
): Promise<{ state?: T; messages: number }> {
  let messages = 0
  try {
    for await (const message of readSse(body)) {
      messages++
      const event = parseEvent(message.data)
      if (event?.subject_id !== target.subjectId) continue
      const state = await target.read(signal)
      if (target.isFinal(state)) return { state, messages }
    }
  } catch (error) {
    // A dropped connection is a reason to reconnect, not to fail; an abort is the caller's.
    if (signal.aborted) throw error
  }
  return { messages }
}

/** The body, erroring once no chunk came for `ms`; the timer goes with `signal`. */
function withIdleLimit(body: ReadableStream<Uint8Array>, ms: number, signal: AbortSignal): ReadableStream<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined
  let silent: () => void = () => undefined
  const arm = () => {
    clearTimeout(timer)
    timer = setTimeout(silent, ms)
  }
  signal.addEventListener('abort', () => clearTimeout(timer), { once: true })
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start(controller) {
        silent = () => controller.error(new Error(`event stream silent for ${ms} ms`))
        arm()
      },
      transform(chunk, controller) {
        arm()
        controller.enqueue(chunk)
      },
      flush() {
        clearTimeout(timer)
      },
    }),
  )
}

function parseEvent(data: string): ImageServiceEvent | undefined {
  try {
    const value: unknown = JSON.parse(data)
    return typeof value === 'object' && value !== null && 'subject_id' in value ? (value as ImageServiceEvent) : undefined
  } catch {
    return undefined
  }
}

async function poll<T>(
  target: { read: (signal: AbortSignal) => Promise<T>; isFinal: (state: T) => boolean },
  signal: AbortSignal,
  options: WaitOptions,
): Promise<T> {
  let interval = options.pollIntervalMs ?? 250
  const max = options.maxPollIntervalMs ?? 5000
  for (;;) {
    const state = await target.read(signal)
    if (target.isFinal(state)) return state
    await delay(interval, signal)
    interval = Math.min(max, interval * 2)
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
