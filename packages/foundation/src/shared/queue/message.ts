/**
 * The contract between a queue consumer and its handler. A handler returns what should happen
 * to the message as a value; it throws only by mistake (a thrown error is a retry too).
 */

/** One thing a message was about (an image per S3 record, a job), with what happened to it. */
export type SubjectOutcome = {
  /** The image or job id; absent for a record that named nothing of ours. */
  id?: string
  /** A short word: `ready`, `failed`, `skipped`, `ignored`, `retry`, ... */
  outcome: string
  /** A stable code (`too_large`, `DATABASE_UNAVAILABLE`); it becomes a metric label, so no free text. */
  reason?: string
  durationMs?: number
  /** Extra fields for the log line (an ignored record's bucket and key, ...). */
  detail?: Record<string, unknown>
  error?: unknown
}

export type MessageResult =
  /** Every subject reached an outcome: the message is deleted. */
  | { type: 'ack'; subjects?: SubjectOutcome[] }
  /**
   * Leave the message for redelivery. `afterSeconds` asks for that visibility timeout (the
   * worker's retry policy has the last word); `reason` is a stable code.
   */
  | { type: 'retry'; reason: string; afterSeconds?: number; subjects?: SubjectOutcome[] }

export const ackMessage = (subjects?: SubjectOutcome[]): MessageResult => ({ type: 'ack', ...(subjects ? { subjects } : {}) })
export const retryMessage = (reason: string, options: { afterSeconds?: number; subjects?: SubjectOutcome[] } = {}): MessageResult => ({
  type: 'retry',
  reason,
  ...options,
})

export type QueueMessage = {
  /** The queue's name (last segment of its URL), as in logs and metrics. */
  queue: string
  messageId: string
  body: string
  /** 1 on the first delivery. */
  receiveCount: number
}

export type MessageHandler = (message: QueueMessage) => Promise<MessageResult>

/** What a handler that threw is reported as. */
export const HANDLER_CRASHED = 'HANDLER_CRASHED'

/**
 * The one "message processed" event, sent once a message was handled and settled (deleted, or
 * its visibility changed). It feeds the log lines, the metrics and, in tests, a spy.
 */
export type ProcessedMessage = {
  queue: string
  messageId: string
  receiveCount: number
  outcome: MessageResult['type']
  /** Why it is retried (a code); undefined for `ack`. */
  reason?: string
  /** The visibility timeout actually set for a retry; undefined when the queue's own applies. */
  retryAfterSeconds?: number
  subjects: SubjectOutcome[]
  durationMs: number
  /** False when the delete or the visibility change failed: SQS delivers the message again. */
  settled: boolean
  /** The handler's error, when it threw instead of returning a result. */
  error?: unknown
}

export type MessageProcessedListener = (event: ProcessedMessage) => void
