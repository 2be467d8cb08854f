/** One dispatched Server-Sent Event: `data` lines joined with `\n`, `id` as last set. */
export type SseMessage = { id: string | undefined; event: string; data: string }

/**
 * The messages of a `text/event-stream` body, as WHATWG HTML §9.2 reads them: lines end in
 * CRLF, LF or CR (also across chunk boundaries), `:` lines are comments (heartbeats), a blank
 * line dispatches, a message without `data` is not dispatched, and `id` persists until set
 * again. `retry` is ignored: reconnecting is the caller's decision.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder()
  let buffer = ''
  let lastId: string | undefined
  let event = ''
  let data: string[] = []
  let pendingCr = false

  function* lines(text: string): Generator<string> {
    let start = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      // A CR that ended the previous chunk already ended its line: skip the LF of its CRLF.
      if (c === 10 && i === 0 && pendingCr) {
        start = 1
        pendingCr = false
        continue
      }
      yield text.slice(start, i)
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++
      start = i + 1
    }
    pendingCr = text.length > 0 && text.charCodeAt(text.length - 1) === 13
    buffer = text.slice(start)
  }

  function* take(line: string): Generator<SseMessage> {
    if (line === '') {
      if (data.length > 0) yield { id: lastId, event: event === '' ? 'message' : event, data: data.join('\n') }
      event = ''
      data = []
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') data.push(value)
    else if (field === 'event') event = value
    else if (field === 'id' && !value.includes('\u0000')) lastId = value === '' ? undefined : value
  }

  const reader = body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      const text = buffer + (done ? decoder.decode() : decoder.decode(value, { stream: true }))
      for (const line of lines(text)) yield* take(line)
      // A message cut off by the end of the stream is not dispatched (the spec discards it).
      if (done) return
    }
  } finally {
    reader.releaseLock()
    await body.cancel().catch(() => undefined)
  }
}
