/** One Server-Sent Events message as EventSource would dispatch it. */
export type SseMessage = { id: string | undefined; data: string }

/**
 * A small SSE reader over fetch for tests: it keeps messages and comments (heartbeats) in
 * arrival order and lets a test wait for the next one. Unlike EventSource, it can send
 * headers (Authorization, Last-Event-ID), which the tests need to control reconnection.
 */
export type EventStreamReader = {
  status: number
  contentType: string | null
  messages: SseMessage[]
  comments: string[]
  /** Resolves once `count` messages have arrived (throws if the stream ends first). */
  waitForMessages(count: number): Promise<SseMessage[]>
  waitForComment(text: string): Promise<void>
  /** Resolves when the server ends the stream. */
  ended(): Promise<void>
  /** The client goes away (a dropped connection). */
  close(): Promise<void>
}

export async function openEventStream(url: string, headers: Record<string, string> = {}): Promise<EventStreamReader> {
  const abort = new AbortController()
  const response = await fetch(url, { headers, signal: abort.signal })
  const messages: SseMessage[] = []
  const comments: string[] = []
  let waiters: (() => void)[] = []
  let ended = false
  const notify = () => {
    for (const wake of waiters) wake()
    waiters = []
  }
  const read = async () => {
    if (response.body === null) return
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true })
        let end = buffer.indexOf('\n\n')
        while (end >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          end = buffer.indexOf('\n\n')
          let id: string | undefined
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            else if (line.startsWith('id: ')) id = line.slice(4)
            else if (line.startsWith('data: ')) data.push(line.slice(6))
          }
          if (data.length > 0) messages.push({ id, data: data.join('\n') })
          notify()
        }
      }
    } catch {
      // aborted by close()
    } finally {
      ended = true
      notify()
    }
  }
  const done = read()
  const until = async (ready: () => boolean) => {
    while (!ready()) {
      if (ended) throw new Error('the event stream ended')
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    messages,
    comments,
    async waitForMessages(count: number): Promise<SseMessage[]> {
      await until(() => messages.length >= count)
      return messages.slice(0, count)
    },
    async waitForComment(text: string): Promise<void> {
      await until(() => comments.includes(text))
    },
    async ended(): Promise<void> {
      await done
    },
    async close(): Promise<void> {
      abort.abort()
      await done
    },
  }
}
