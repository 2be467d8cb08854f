import {
  isAppError,
  type ImageId,
  type MessageHandler,
  type MessageResult,
  objectKeyFor,
  type SubjectOutcome,
  systemContext,
  type ValidateImage,
  type ValidationStorage,
} from '@image-service/foundation'
import { type IgnoredRecord, parseUploadsMessage, type UploadsMessage } from './s3-event.ts'

/** What happened to one record of an uploads message; `retry` leaves the whole message for redelivery. */
export type RecordOutcome = SubjectOutcome & { outcome: 'ready' | 'failed' | 'skipped' | 'ignored' | 'retry' }

/**
 * One message of the uploads queue -> its records validated one after another, each with an
 * outcome. The message is acknowledged only when every record reached a final outcome; a
 * `retry` outcome of ValidateImage, or an error it threw, leaves the whole message for
 * redelivery. Records already finished are then `skipped`, since final states never change.
 * Nothing is logged here: the "message processed" listeners write the lines and count.
 */
export function createUploadsMessageHandler(deps: {
  validate: ValidateImage
  /** For validate messages only: is the object there at all? */
  storage: Pick<ValidationStorage, 'getObjectMetadata'>
  bucket: string
}): MessageHandler {
  async function handleUpload(messageId: string, imageId: ImageId, source: UploadsMessage['source']): Promise<RecordOutcome> {
    const started = performance.now()
    const done = (outcome: RecordOutcome['outcome'], fields: Omit<RecordOutcome, 'outcome' | 'id' | 'durationMs'> = {}): RecordOutcome => ({
      id: imageId,
      outcome,
      ...fields,
      durationMs: Math.round(performance.now() - started),
    })
    try {
      // A validate message is a request, not proof of an upload: without an object the record
      // stays pending (the client may still PUT; the sweeper expires it), never failed.
      if (source === 'validate' && (await deps.storage.getObjectMetadata(objectKeyFor(imageId))) === null) {
        return done('skipped', { reason: 'missing_object', detail: { leftPending: true } })
      }
      const result = await deps.validate(systemContext('processor', messageId), imageId)
      switch (result.outcome) {
        case 'ready':
          return done('ready')
        case 'failed':
          return done('failed', { reason: result.reason })
        case 'skipped':
          return done('skipped', { reason: result.status })
        case 'retry':
          return done('retry', {
            reason: result.reason,
            ...(result.afterSeconds === undefined ? {} : { detail: { afterSeconds: result.afterSeconds } }),
          })
      }
    } catch (error) {
      // Defensive: "try again later" is a value, but a throw (a bug, an unmapped error) must
      // never become a verdict or a deleted message either.
      return done('retry', { reason: isAppError(error) ? error.code : 'UNEXPECTED', error })
    }
  }

  return async (message): Promise<MessageResult> => {
    const parsed = parseUploadsMessage(message.body, { bucket: deps.bucket })
    const outcomes: RecordOutcome[] = parsed.ignored.map(ignoredOutcome)
    const retryAfter: number[] = []
    for (const imageId of parsed.imageIds) {
      const outcome = await handleUpload(message.messageId, imageId, parsed.source)
      outcomes.push(outcome)
      const wanted = outcome.detail?.afterSeconds
      if (typeof wanted === 'number') retryAfter.push(wanted)
    }
    const retried = outcomes.find((o) => o.outcome === 'retry')
    if (retried === undefined) return { type: 'ack', subjects: outcomes }
    return {
      type: 'retry',
      reason: retried.reason ?? 'UNEXPECTED',
      // The soonest any record asked for: handling is idempotent, so an early retry costs little.
      ...(retryAfter.length > 0 ? { afterSeconds: Math.min(...retryAfter) } : {}),
      subjects: outcomes,
    }
  }
}

/** `not an ObjectCreated event` -> `not_an_objectcreated_event`: our fixed texts, as a label. */
const reasonCode = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '')

function ignoredOutcome(record: IgnoredRecord): RecordOutcome {
  return { outcome: 'ignored', reason: reasonCode(record.reason), detail: { ...record } }
}
