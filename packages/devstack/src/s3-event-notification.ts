import type { ObjectCreatedEvent } from './s3-emulator.ts'

/** The body S3 sends to an SQS queue for one ObjectCreated event (event structure 2.1). */
export type S3EventNotification = {
  Records: Array<{
    eventVersion: '2.1'
    eventSource: 'aws:s3'
    awsRegion: string
    eventTime: string
    eventName: string
    userIdentity: { principalId: string }
    requestParameters: { sourceIPAddress: string }
    responseElements: { 'x-amz-request-id': string; 'x-amz-id-2': string }
    s3: {
      s3SchemaVersion: '1.0'
      configurationId: string
      bucket: { name: string; ownerIdentity: { principalId: string }; arn: string }
      object: { key: string; size: number; eTag: string; sequencer: string }
    }
  }>
}

/**
 * Keys in S3 notifications are URL-encoded the way S3 does it: each path segment like
 * encodeURIComponent, '/' kept, and a space written as '+'. So a literal '+' arrives as '%2B'
 * and consumers must decode '+' to a space before percent-decoding.
 */
export function encodeS3EventKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/')
}

export function toS3EventNotification(event: ObjectCreatedEvent, region: string): S3EventNotification {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: event.eventTime.toISOString(),
        eventName: event.eventName,
        userIdentity: { principalId: 'AWS:DEVSTACK' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': event.sequencer, 'x-amz-id-2': 'devstack' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'devstack-object-created',
          bucket: { name: event.bucket, ownerIdentity: { principalId: 'DEVSTACK' }, arn: `arn:aws:s3:::${event.bucket}` },
          object: { key: encodeS3EventKey(event.key), size: event.size, eTag: event.eTag, sequencer: event.sequencer },
        },
      },
    ],
  }
}
