import type { MessageProcessedListener, MessageResult, ProcessedMessage } from './message.ts'

export type MessageMatch = string | ((message: ProcessedMessage) => boolean)

export type MessageSpy = {
  /** Give this to the worker as (one of) its `onProcessed` listeners. */
  readonly listener: MessageProcessedListener
  /** Everything heard so far, oldest first (the last `capacity` messages). */
  readonly messages: readonly ProcessedMessage[]
  /**
   * The first message, already heard or still to come, that matches: a string is a message
   * id or a subject id (an image id); with `outcome`, only messages that ended so count.
   */
  waitForMessage(match: MessageMatch, outcome?: MessageResult['type'], options?: { timeoutMs?: number }): Promise<ProcessedMessage>
}

/**
 * Records "message processed" events so tests wait for the event they expect instead of
 * polling the database or reading log lines. Cheap enough to leave wired outside tests.
 */
export function createMessageSpy(options: { capacity?: number } = {}): MessageSpy {
  const capacity = options.capacity ?? 10_000
  const messages: ProcessedMessage[] = []
  const waiters = new Set<(message: ProcessedMessage) => void>()

  const matches = (message: ProcessedMessage, match: MessageMatch, outcome: MessageResult['type'] | undefined) =>
    (outcome === undefined || message.outcome === outcome) &&
    (typeof match === 'function' ? match(message) : message.messageId === match || message.subjects.some((s) => s.id === match))

  return {
    messages,
    listener(message) {
      messages.push(message)
      if (messages.length > capacity) messages.shift()
      for (const waiter of [...waiters]) waiter(message)
    },
    waitForMessage(match, outcome, waitOptions = {}) {
      const seen = messages.find((m) => matches(m, match, outcome))
      if (seen !== undefined) return Promise.resolve(seen)
      const timeoutMs = waitOptions.timeoutMs ?? 30_000
      return new Promise((resolve, reject) => {
        const waiter = (message: ProcessedMessage) => {
          if (!matches(message, match, outcome)) return
          done()
          resolve(message)
        }
        const timer = setTimeout(() => {
          done()
          const what = typeof match === 'string' ? match : 'a matching message'
          const heard = messages.map((m) => `${m.messageId}:${m.outcome}`).join(', ')
          reject(new Error(`no ${outcome ?? 'processed'} message for ${what} within ${timeoutMs} ms (heard: ${heard || 'nothing'})`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          waiters.delete(waiter)
        }
        waiters.add(waiter)
      })
    },
  }
}
