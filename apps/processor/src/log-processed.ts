import { isAppError, type Logger, type MessageProcessedListener } from '@image-service/foundation'

/**
 * The log lines of the uploads queue, from the "message processed" event: one per record,
 * `{ imageId, outcome, reason, durationMs }` with the message's id and receive count.
 */
export function logUploadsMessage(log: Logger): MessageProcessedListener {
  return (event) => {
    const context = { messageId: event.messageId, receiveCount: event.receiveCount }
    for (const subject of event.subjects) {
      const { id, outcome, reason, durationMs, detail, error } = subject
      if (outcome === 'ignored') {
        log.warn({ ...context, outcome, ...detail }, 'ignored S3 event record')
      } else if (outcome === 'retry') {
        // A missing record or a dependency outage is expected now and then (warn); a bug is not.
        const level = error !== undefined && !(isAppError(error) && error.kind !== 'internal') ? 'error' : 'warn'
        log[level](
          { ...context, imageId: id, outcome, reason, durationMs, ...detail, ...(error === undefined ? {} : { err: error }) },
          'upload left for retry',
        )
      } else {
        log.info({ ...context, imageId: id, outcome, reason, durationMs, ...detail }, 'handled upload')
      }
    }
  }
}
