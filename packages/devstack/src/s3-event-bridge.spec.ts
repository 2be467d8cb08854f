import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import type { Message } from '@aws-sdk/client-sqs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmulatorS3Client } from './emulator-s3-client.ts'
import { startS3EventBridge } from './s3-event-bridge.ts'
import type { BridgeLogger } from './s3-event-bridge.ts'
import { encodeS3EventKey } from './s3-event-notification.ts'
import { startS3Emulator } from './s3-emulator.ts'
import type { S3Emulator } from './s3-emulator.ts'
import { startSqsEmulator } from './sqs-emulator.ts'
import type { SqsEmulator } from './sqs-emulator.ts'
import { waitFor } from './wait-for.ts'

const BUCKET = 'spec-bridge'
const OTHER_BUCKET = 'spec-bridge-other'
const silent: BridgeLogger = { warn: () => {}, error: () => {} }

describe('S3 -> SQS event bridge', () => {
  let s3: S3Emulator
  let sqs: SqsEmulator
  let s3Client: S3Client
  let sqsClient: SQSClient

  beforeAll(async () => {
    ;[s3, sqs] = await Promise.all([startS3Emulator({ buckets: [BUCKET, OTHER_BUCKET] }), startSqsEmulator()])
    s3Client = createEmulatorS3Client(s3)
    sqsClient = new SQSClient({ endpoint: sqs.endpoint, region: sqs.region, credentials: sqs })
  })
  afterAll(async () => {
    s3Client.destroy()
    sqsClient.destroy()
    await Promise.all([s3.stop(), sqs.stop()])
  })

  /** Drains the queue until `count` messages arrived, then checks nothing more follows. */
  async function receiveExactly(queueUrl: string, count: number): Promise<Message[]> {
    const received: Message[] = []
    const receive = () =>
      sqsClient
        .send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }))
        .then((r) => r.Messages ?? [])
    await waitFor(async () => {
      received.push(...(await receive()))
      return received.length >= count ? true : undefined
    })
    received.push(...(await receive()))
    expect(received).toHaveLength(count)
    return received
  }

  it('turns one stored object into exactly one S3 event message, key encoded as S3 does', async () => {
    const { queueUrl } = await sqs.createQueue('bridge-shape', { visibilityTimeoutSeconds: 30 })
    const bridge = startS3EventBridge({ s3, sqs, bucket: BUCKET, queueUrl, logger: silent })
    try {
      await s3Client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/a b/é.png', Body: 'abc' }))
      await s3Client.send(new PutObjectCommand({ Bucket: OTHER_BUCKET, Key: 'uploads/ignored', Body: 'x' }))
      // Outside the notification's uploads/ prefix: the processor's own variant writes.
      await s3Client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'variants/x/thumbnail.webp', Body: 'x' }))
      const [message] = await receiveExactly(queueUrl, 1)
      const body = JSON.parse(message?.Body ?? '{}')
      expect(body).toEqual({
        Records: [
          expect.objectContaining({
            eventVersion: '2.1',
            eventSource: 'aws:s3',
            awsRegion: 'us-east-1',
            eventName: 'ObjectCreated:Put',
            eventTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
            s3: expect.objectContaining({
              s3SchemaVersion: '1.0',
              bucket: expect.objectContaining({ name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` }),
              object: {
                key: 'uploads/a+b/%C3%A9.png',
                size: 3,
                eTag: '900150983cd24fb0d6963f7d28e17f72', // md5("abc")
                sequencer: expect.stringMatching(/^[0-9A-F]+$/),
              },
            }),
          }),
        ],
      })
    } finally {
      await bridge.stop()
    }
  })

  it('encodes keys like S3: spaces as +, a literal + as %2B, slashes kept', () => {
    expect(encodeS3EventKey('uploads/a b/é.png')).toBe('uploads/a+b/%C3%A9.png')
    expect(encodeS3EventKey('a+b/c&d=e?.png')).toBe('a%2Bb/c%26d%3De%3F.png')
    expect(decodeURIComponent(encodeS3EventKey('x y+z').replace(/\+/g, ' '))).toBe('x y+z')
  })

  it('retries a transiently failing SQS and still delivers exactly once', async () => {
    const { queueUrl } = await sqs.createQueue('bridge-retry', { visibilityTimeoutSeconds: 30 })
    const flaky = await startFlakyProxy(sqs.endpoint, 2)
    const warnings: object[] = []
    const bridge = startS3EventBridge({
      s3,
      sqs: { ...sqs, endpoint: flaky.endpoint },
      bucket: BUCKET,
      queueUrl,
      retry: { attempts: 4, baseDelayMs: 10 },
      logger: { warn: (details) => warnings.push(details), error: () => {} },
    })
    try {
      await s3Client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'uploads/retried', Body: 'x' }))
      const [message] = await receiveExactly(queueUrl, 1)
      expect(JSON.parse(message?.Body ?? '{}').Records[0].s3.object.key).toBe('uploads/retried')
      expect(warnings).toHaveLength(2)
      expect(flaky.failed()).toBe(2)
    } finally {
      await bridge.stop()
      await flaky.stop()
    }
  })
})

/** A real HTTP hop in front of SQS that answers the first `failures` requests with a 500. */
async function startFlakyProxy(target: string, failures: number) {
  let failed = 0
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    if (failed < failures) {
      failed += 1
      res.writeHead(500, { 'Content-Type': 'application/x-amz-json-1.0' })
      res.end(JSON.stringify({ __type: 'InternalError', message: 'injected failure' }))
      return
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => !['host', 'content-length', 'connection'].includes(name)),
    ) as Record<string, string>
    const upstream = await fetch(`${target}${req.url ?? '/'}`, { method: req.method, headers, body: Buffer.concat(chunks) })
    res.writeHead(upstream.status, Object.fromEntries(upstream.headers))
    res.end(Buffer.from(await upstream.arrayBuffer()))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failed: () => failed,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
