import { describe, expect, it } from 'vitest'
import { decodeS3Key, parseS3EventMessage, parseUploadsMessage } from './s3-event.ts'

const BUCKET = 'image-uploads'
const ID = '01JD5Z8Q3M4N5P6R7S8T9V0W1X'

/** Shaped like the notifications S3 sends (event version 2.1), trimmed of fields we never read. */
function record(eventName: string, key: string, bucket = BUCKET): Record<string, unknown> {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: 'us-east-1',
    eventTime: '2025-01-15T10:00:00.000Z',
    eventName,
    userIdentity: { principalId: 'AWS:AIDAEXAMPLE' },
    requestParameters: { sourceIPAddress: '203.0.113.7' },
    responseElements: {
      'x-amz-request-id': 'C3D13FE58DE4C810',
      'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'uploads',
      bucket: { name: bucket, ownerIdentity: { principalId: 'A3NL1KOZZKExample' }, arn: `arn:aws:s3:::${bucket}` },
      object: { key, size: 1024, eTag: 'd41d8cd98f00b204e9800998ecf8427e', sequencer: '0055AED6DCD90281E5' },
    },
  }
}
const body = (...records: Record<string, unknown>[]) => JSON.stringify({ Records: records })
const parse = (text: string) => parseS3EventMessage(text, { bucket: BUCKET })

describe('parseS3EventMessage', () => {
  it.each(['ObjectCreated:Put', 'ObjectCreated:CompleteMultipartUpload', 'ObjectCreated:Copy', 'ObjectCreated:Post'])(
    'takes the image id from %s',
    (eventName) => {
      expect(parse(body(record(eventName, `uploads/${ID}`)))).toEqual({ imageIds: [ID], ignored: [] })
    },
  )

  it('ignores ObjectRemoved:Delete records but keeps created ones in the same message', () => {
    const other = '01JD5Z8Q3M4N5P6R7S8T9V0W1Y'
    const result = parse(body(record('ObjectRemoved:Delete', `uploads/${ID}`), record('ObjectCreated:Put', `uploads/${other}`)))
    expect(result.imageIds).toEqual([other])
    expect(result.ignored).toEqual([{ reason: 'not an ObjectCreated event', eventName: 'ObjectRemoved:Delete' }])
  })

  it('acknowledges the s3:TestEvent sent when notifications are configured', () => {
    const test = {
      Service: 'Amazon S3',
      Event: 's3:TestEvent',
      Time: '2025-01-15T10:00:00.000Z',
      Bucket: BUCKET,
      RequestId: 'X',
      HostId: 'Y',
    }
    expect(parse(JSON.stringify(test))).toEqual({ imageIds: [], ignored: [{ reason: 's3:TestEvent', eventName: 's3:TestEvent' }] })
  })

  it('URL-decodes keys before matching them', () => {
    expect(parse(body(record('ObjectCreated:Put', `uploads%2F${ID}`))).imageIds).toEqual([ID])
    expect(decodeS3Key('a+b%20c%2B')).toBe('a b c+')
  })

  it('rejects malformed percent-encoding instead of throwing', () => {
    expect(parse(body(record('ObjectCreated:Put', 'uploads/%E0%A4%A')))).toEqual({
      imageIds: [],
      ignored: [
        { reason: 'object key is not valid URL encoding', eventName: 'ObjectCreated:Put', bucket: BUCKET, key: 'uploads/%E0%A4%A' },
      ],
    })
  })

  it('ignores records of another bucket', () => {
    const result = parse(body(record('ObjectCreated:Put', `uploads/${ID}`, 'someone-else')))
    expect(result.imageIds).toEqual([])
    expect(result.ignored[0]).toMatchObject({ reason: 'event for another bucket', bucket: 'someone-else' })
  })

  it.each([
    ['a path traversal', 'uploads/../x'],
    ['an encoded path traversal', `uploads/..%2F${ID}`],
    ['a lowercase ULID', `uploads/${ID.toLowerCase()}`],
    ['extra path segments', `uploads/${ID}/extra`],
    ['a nested prefix', `tmp/uploads/${ID}`],
    ['a ULID starting above 7', `uploads/8${ID.slice(1)}`],
    ['a key with a space (+)', `uploads/${ID}+`],
  ])('ignores %s', (_name, key) => {
    const result = parse(body(record('ObjectCreated:Put', key)))
    expect(result.imageIds).toEqual([])
    expect(result.ignored).toHaveLength(1)
    expect(result.ignored[0]?.reason).toBe('object key is not uploads/{image_id}')
  })

  it.each([
    ['invalid JSON', '{"Records": [', 'body is not JSON'],
    ['a JSON array', '[]', 'body is not a JSON object'],
    ['no Records', '{"hello":"world"}', 'no Records array'],
  ])('ignores %s', (_name, text, reason) => {
    expect(parse(text)).toEqual({ imageIds: [], ignored: [{ reason }] })
  })

  it('ignores records that are not objects or lack fields', () => {
    const result = parse(JSON.stringify({ Records: [42, { eventName: 'ObjectCreated:Put' }, { s3: {} }] }))
    expect(result.imageIds).toEqual([])
    expect(result.ignored.map((r) => r.reason)).toEqual([
      'record is not an object',
      'record has no bucket name or object key',
      'record has no eventName',
    ])
  })

  it('unwraps SNS notifications (S3 -> SNS -> SQS without raw delivery)', () => {
    const sns = {
      Type: 'Notification',
      MessageId: 'm-1',
      TopicArn: 'arn:aws:sns:us-east-1:1:uploads',
      Message: body(record('ObjectCreated:Put', `uploads/${ID}`)),
    }
    expect(parse(JSON.stringify(sns))).toEqual({ imageIds: [ID], ignored: [] })
    expect(parse(JSON.stringify({ ...sns, Message: 'not json' })).ignored).toEqual([
      { reason: 'SNS notification whose Message is not JSON' },
    ])
  })

  it('validates an image once when a message repeats its record', () => {
    const created = record('ObjectCreated:Put', `uploads/${ID}`)
    expect(parse(body(created, created)).imageIds).toEqual([ID])
  })
})

describe('parseUploadsMessage', () => {
  const parseUploads = (text: string) => parseUploadsMessage(text, { bucket: BUCKET })

  it('reads a validate message (from upload/confirm or the sweeper) as a request for that upload', () => {
    expect(parseUploads(JSON.stringify({ type: 'validate', image_id: ID }))).toEqual({ source: 'validate', imageIds: [ID], ignored: [] })
  })

  it.each([
    ['an image id that is not a ULID', { type: 'validate', image_id: 'uploads/x' }],
    ['no image id', { type: 'validate' }],
    ['an unknown field', { type: 'validate', image_id: ID, bucket: 'other' }],
  ])('ignores a validate message with %s', (_name, message) => {
    const result = parseUploads(JSON.stringify(message))
    expect(result).toMatchObject({ source: 'validate', imageIds: [] })
    expect(result.ignored).toHaveLength(1)
    expect(result.ignored[0]?.reason).toMatch(/^malformed validate message/)
  })

  it('reads everything else as an S3 event, with the same outcomes', () => {
    expect(parseUploads(body(record('ObjectCreated:Put', `uploads/${ID}`)))).toEqual({ source: 's3-event', imageIds: [ID], ignored: [] })
    expect(parseUploads('{"Records": [')).toEqual({ source: 's3-event', imageIds: [], ignored: [{ reason: 'body is not JSON' }] })
  })
})
