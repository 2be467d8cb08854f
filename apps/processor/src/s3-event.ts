import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { type ImageId, imageIdFromObjectKey, parseImageId, ValidateImageMessage } from '@image-service/foundation'

/**
 * SQS message body of the uploads queue -> the uploads to validate. Anything we cannot act on
 * is returned as an ignored record with a reason (logged and acknowledged): retrying
 * malformed input would only send it to the DLQ later with the same result.
 */
export type IgnoredRecord = { reason: string; eventName?: string; bucket?: string; key?: string; detail?: string }
export type ParsedMessage = { imageIds: ImageId[]; ignored: IgnoredRecord[] }
/** `validate`: our own request (confirm, the sweeper); a missing object then leaves the record pending. */
export type UploadsMessage = ParsedMessage & { source: 's3-event' | 'validate' }

/** The fields of an S3 event record (event version 2.x) we read; the rest is allowed and ignored. */
export const S3EventRecord = Type.Object({
  eventName: Type.String(),
  s3: Type.Object({ bucket: Type.Object({ name: Type.String() }), object: Type.Object({ key: Type.String() }) }),
})
export type S3EventRecord = Static<typeof S3EventRecord>
export const S3EventNotification = Type.Object({ Records: Type.Array(Type.Unknown()) })
/** Sent once when a notification is configured on the bucket. */
export const S3TestEvent = Type.Object({ Event: Type.Literal('s3:TestEvent') })
/** S3 -> SNS -> SQS without raw message delivery wraps the event in this envelope. */
export const SnsNotification = Type.Object({ Type: Type.Literal('Notification'), Message: Type.String() })

const compile = <S extends TSchema>(schema: S) => TypeCompiler.Compile(schema)
const isJsonObject = compile(Type.Object({}))
const isNamedRecord = compile(Type.Pick(S3EventRecord, ['eventName']))
const isS3Record = compile(S3EventRecord)
const isNotification = compile(S3EventNotification)
const isTestEvent = compile(S3TestEvent)
const isSnsNotification = compile(SnsNotification)
const isValidateMessage = compile(ValidateImageMessage)
const claimsValidate = compile(Type.Object({ type: Type.Literal('validate') }))

export function parseUploadsMessage(body: string, options: { bucket: string }): UploadsMessage {
  const document = parseJson(body)
  if (isValidateMessage.Check(document)) return { source: 'validate', imageIds: [parseImageId(document.image_id)], ignored: [] }
  if (claimsValidate.Check(document)) {
    const problem = isValidateMessage.Errors(document).First()
    return {
      source: 'validate',
      ...ignoredOnly('malformed validate message', problem ? { detail: `${problem.path} ${problem.message}` } : {}),
    }
  }
  return { source: 's3-event', ...parseS3Event(document, options.bucket) }
}

export function parseS3EventMessage(body: string, options: { bucket: string }): ParsedMessage {
  return parseS3Event(parseJson(body), options.bucket)
}

function parseS3Event(document: unknown, bucket: string): ParsedMessage {
  if (document === undefined) return ignoredOnly('body is not JSON')
  const event = isSnsNotification.Check(document) ? parseJson(document.Message) : document
  if (event === undefined) return ignoredOnly('SNS notification whose Message is not JSON')
  if (!isJsonObject.Check(event)) return ignoredOnly('body is not a JSON object')
  if (isTestEvent.Check(event)) return ignoredOnly('s3:TestEvent', { eventName: 's3:TestEvent' })
  if (!isNotification.Check(event)) return ignoredOnly('no Records array')

  const imageIds: ImageId[] = []
  const ignored: IgnoredRecord[] = []
  for (const record of event.Records) {
    const result = parseRecord(record, bucket)
    if (typeof result === 'string') {
      if (!imageIds.includes(result)) imageIds.push(result)
    } else {
      ignored.push(result)
    }
  }
  return { imageIds, ignored }
}

function parseRecord(record: unknown, expectedBucket: string): ImageId | IgnoredRecord {
  if (!isJsonObject.Check(record)) return { reason: 'record is not an object' }
  if (!isNamedRecord.Check(record)) return { reason: 'record has no eventName' }
  const { eventName } = record
  if (!eventName.startsWith('ObjectCreated:')) return { reason: 'not an ObjectCreated event', eventName }
  if (!isS3Record.Check(record)) return { reason: 'record has no bucket name or object key', eventName }

  const bucket = record.s3.bucket.name
  const rawKey = record.s3.object.key
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

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function ignoredOnly(reason: string, extra: Omit<IgnoredRecord, 'reason'> = {}): ParsedMessage {
  return { imageIds: [], ignored: [{ reason, ...extra }] }
}
