import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createS3EventBridge, toAwsS3Event } from '../compose/s3-event-bridge.ts'

// What MinIO POSTs to a webhook target for one PUT (trimmed to the fields that matter).
const minioPayload = {
  EventName: 's3:ObjectCreated:Put',
  Key: 'images/uploads/01ARZ3NDEKTSV4RRFFQ69G5FAV',
  Records: [
    {
      eventVersion: '2.0',
      eventSource: 'minio:s3',
      awsRegion: '',
      eventName: 's3:ObjectCreated:Put',
      s3: { bucket: { name: 'images' }, object: { key: 'uploads%2F01ARZ3NDEKTSV4RRFFQ69G5FAV', size: 120 } },
    },
  ],
}

describe('toAwsS3Event', () => {
  it('rewrites MinIO records to the names AWS S3 uses and keeps the rest', () => {
    const event = toAwsS3Event(minioPayload, 'eu-west-1')
    expect(event?.Records).toEqual([
      { ...minioPayload.Records[0], eventName: 'ObjectCreated:Put', eventSource: 'aws:s3', awsRegion: 'eu-west-1' },
    ])
  })

  it('forwards nothing but ObjectCreated records', () => {
    const removed = { Records: [{ ...minioPayload.Records[0], eventName: 's3:ObjectRemoved:Delete' }] }
    expect(toAwsS3Event(removed, 'us-east-1')).toBeUndefined()
    expect(toAwsS3Event({ hello: 'world' }, 'us-east-1')).toBeUndefined()
    expect(toAwsS3Event(null, 'us-east-1')).toBeUndefined()
  })
})

type Received = { target: string | undefined; body: { QueueUrl: string; MessageBody: string } }

/** A stand-in SQS endpoint over real HTTP that records SendMessage calls and answers `status`. */
function fakeSqs(status: number): { server: Server; received: Received[] } {
  const received: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const target = req.headers['x-amz-target']
      received.push({ target: Array.isArray(target) ? target[0] : target, body: JSON.parse(Buffer.concat(chunks).toString()) })
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end('{}')
    })
  })
  return { server, received }
}

const servers: Server[] = []
async function listen(server: Server): Promise<string> {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
})

async function bridgeTo(sqsStatus: number) {
  const sqs = fakeSqs(sqsStatus)
  const queueUrl = 'http://sqs:4566/000000000000/image-uploads'
  const bridge = await listen(createS3EventBridge({ sqsEndpoint: await listen(sqs.server), queueUrl, region: 'us-east-1' }))
  const post = (body: string) => fetch(bridge, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  return { post, received: sqs.received, queueUrl }
}

describe('createS3EventBridge', () => {
  it('sends each ObjectCreated notification to the queue as an AWS S3 event', async () => {
    const { post, received, queueUrl } = await bridgeTo(200)
    const response = await post(JSON.stringify(minioPayload))
    expect(response.status).toBe(204)
    expect(received).toHaveLength(1)
    expect(received[0]?.target).toBe('AmazonSQS.SendMessage')
    expect(received[0]?.body.QueueUrl).toBe(queueUrl)
    const message = JSON.parse(received[0]?.body.MessageBody ?? '{}')
    expect(message.Records[0]).toMatchObject({ eventName: 'ObjectCreated:Put', eventSource: 'aws:s3' })
    expect(message.Records[0].s3.object.key).toBe('uploads%2F01ARZ3NDEKTSV4RRFFQ69G5FAV')
  })

  it('answers 502 when the queue refuses, so MinIO keeps the event and retries', async () => {
    const { post, received } = await bridgeTo(500)
    expect((await post(JSON.stringify(minioPayload))).status).toBe(502)
    expect(received).toHaveLength(1)
  })

  it('rejects malformed JSON and sends nothing', async () => {
    const { post, received } = await bridgeTo(200)
    expect((await post('{not json')).status).toBe(400)
    expect(received).toHaveLength(0)
  })
})
