import { type ImageId, imageIdFromObjectKey } from '@image-service/foundation'

/**
 * SQS message body -> the uploads to validate. Anything we cannot act on is returned as an
 * ignored record with a reason (logged and acknowledged by the worker): retrying malformed
 * input would only send it to the DLQ later with the same result.
 */
export type IgnoredRecord = { reason: string; eventName?: string; bucket?: string; key?: string }
export type ParsedMessage = { imageIds: ImageId[]; ignored: IgnoredRecord[] }

export function parseS3EventMessage(body: string, options: { bucket: string }): ParsedMessage {
  const document = parseJson(body)
  if (document === undefined) return ignoredOnly('body is not JSON')
  const event = unwrapSns(document)
  if (event === undefined) return ignoredOnly('SNS notification whose Message is not JSON')
  if (!isObject(event)) return ignoredOnly('body is not a JSON object')
  // Sent once when a notification is configured on the bucket.
  if (event.Event === 's3:TestEvent') return ignoredOnly('s3:TestEvent', { eventName: 's3:TestEvent' })
  if (!Array.isArray(event.Records)) return ignoredOnly('no Records array')

  const imageIds: ImageId[] = []
  const ignored: IgnoredRecord[] = []
  for (const record of event.Records as unknown[]) {
    const result = parseRecord(record, options.bucket)
    if (typeof result === 'string') {
      if (!imageIds.includes(result)) imageIds.push(result)
    } else {
      ignored.push(result)
    }
  }
  return { imageIds, ignored }
}

function parseRecord(record: unknown, expectedBucket: string): ImageId | IgnoredRecord {
  if (!isObject(record)) return { reason: 'record is not an object' }
  const eventName = typeof record.eventName === 'string' ? record.eventName : undefined
  if (eventName === undefined) return { reason: 'record has no eventName' }
  if (!eventName.startsWith('ObjectCreated:')) return { reason: 'not an ObjectCreated event', eventName }

  const s3 = isObject(record.s3) ? record.s3 : {}
  const bucket = isObject(s3.bucket) && typeof s3.bucket.name === 'string' ? s3.bucket.name : undefined
  const rawKey = isObject(s3.object) && typeof s3.object.key === 'string' ? s3.object.key : undefined
  if (bucket === undefined || rawKey === undefined) return { reason: 'record has no bucket name or object key', eventName }
  if (bucket !== expectedBucket) return { reason: 'event for another bucket', eventName, bucket, key: rawKey }

  const key = decodeS3Key(rawKey)
  if (key === undefined) return { reason: 'object key is not valid URL encoding', eventName, bucket, key: rawKey }
  const id = imageIdFromObjectKey(key)
  if (id === undefined) return { reason: 'object key is not uploads/{image_id}', eventName, bucket, key }
  return id
}

/** S3 event keys are form-encoded: `+` is a space, then percent-decoding. */
export function decodeS3Key(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '))
  } catch {
    return undefined
  }
}

/**
 * S3 -> SNS -> SQS fan-out (without raw message delivery) wraps the event in an SNS
 * envelope. We unwrap it so either topology works without reconfiguring the processor.
 */
function unwrapSns(document: unknown): unknown {
  if (isObject(document) && document.Type === 'Notification' && typeof document.Message === 'string') {
    return parseJson(document.Message)
  }
  return document
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function ignoredOnly(reason: string, extra: Omit<IgnoredRecord, 'reason'> = {}): ParsedMessage {
  return { imageIds: [], ignored: [{ reason, ...extra }] }
}
