import { isAppError, type Logger, systemContext, type ValidateImage } from '@image-service/foundation'
import type { OutcomeMetrics } from './metrics.ts'
import { parseS3EventMessage } from './s3-event.ts'

export type QueueMessage = { messageId: string; body: string; receiveCount: number }

/** `ack`: every record was handled, delete the message. `retry`: leave it for redelivery. */
export type MessageDisposition = 'ack' | 'retry'

export type MessageHandler = (message: QueueMessage) => Promise<MessageDisposition>

/**
 * One SQS message -> its records validated one after another. A message is acknowledged only
 * when every record in it reached an outcome; a thrown error (dependency down, record not
 * yet visible) asks for a retry of the whole message. Records already finished are then
 * `skipped` on redelivery, since final states never change.
 */
export function createMessageHandler(deps: {
  validate: ValidateImage
  bucket: string
  log: Logger
  metrics: OutcomeMetrics
}): MessageHandler {
  return async (message) => {
    const log = deps.log.child({ messageId: message.messageId, receiveCount: message.receiveCount })
    const parsed = parseS3EventMessage(message.body, { bucket: deps.bucket })
    for (const ignored of parsed.ignored) {
      deps.metrics.record('ignored', ignored.reason)
      log.warn({ outcome: 'ignored', ...ignored }, 'ignored S3 event record')
    }

    let disposition: MessageDisposition = 'ack'
    for (const imageId of parsed.imageIds) {
      const started = performance.now()
      try {
        const result = await deps.validate(systemContext('processor', message.messageId), imageId)
        const reason = result.outcome === 'failed' ? result.reason : result.outcome === 'skipped' ? result.status : undefined
        deps.metrics.record(result.outcome, reason)
        log.info({ imageId, outcome: result.outcome, reason, durationMs: elapsed(started) }, 'handled upload')
      } catch (error) {
        const reason = isAppError(error) ? error.code : 'UNEXPECTED'
        deps.metrics.record('retry', reason)
        // A missing record is expected briefly (replica lag) and ends in the DLQ otherwise: warn.
        const level = isAppError(error) && error.kind !== 'internal' ? 'warn' : 'error'
        log[level]({ imageId, outcome: 'retry', reason, durationMs: elapsed(started), err: error }, 'upload left for retry')
        disposition = 'retry'
      }
    }
    return disposition
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started)
}
