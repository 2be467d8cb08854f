import type { SQSClient } from '@aws-sdk/client-sqs'
import { closedPort, type SqsEmulator } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../common/logger.ts'
import { ackMessage, type QueueMessage, retryMessage } from './message.ts'
import { createMessageParser } from './message-schema.ts'
import { createMessageSpy } from './message-spy.ts'
import { ValidateImageMessage } from './messages.ts'
import { pingQueue } from './queue-health.ts'
import { createQueueWorker } from './queue-worker.ts'
import { createSqsClient } from './sqs-client.ts'
import { createSqsSender } from './sqs-sender.ts'
import { type SpecSqs, startSpecSqs } from './testing/spec-sqs.ts'

const silentLog = createLogger({ level: 'silent' })
const ID = '01JD5Z8Q3M4N5P6R7S8T9V0W1X'

let spec: SpecSqs
let sqs: SqsEmulator
let client: SQSClient
beforeAll(async () => {
  spec = await startSpecSqs()
  sqs = spec.sqs
  client = spec.client
})
afterAll(async () => {
  await spec?.stop()
})

let queueCount = 0
const newQueue = async () => (await sqs.createQueue(`queue-spec-${++queueCount}`, { visibilityTimeoutSeconds: 30 })).queueUrl

describe('createSqsSender and createQueueWorker on the SQS emulator', () => {
  it('sends a schema-typed body that a worker on two queues receives, parses and acknowledges', async () => {
    const [uploadsUrl, jobsUrl] = [await newQueue(), await newQueue()]
    const parse = createMessageParser(ValidateImageMessage)
    const received: QueueMessage[] = []
    const spy = createMessageSpy()
    const worker = createQueueWorker({
      sqs: client,
      log: silentLog,
      waitTimeSeconds: 1,
      onProcessed: spy.listener,
      queues: [uploadsUrl, jobsUrl].map((queueUrl) => ({
        queueUrl,
        concurrency: 2,
        handler: async (message: QueueMessage) => {
          received.push(message)
          const parsed = parse(message.body)
          return parsed.ok
            ? ackMessage([{ id: parsed.value.image_id, outcome: 'validated' }])
            : ackMessage([{ outcome: 'ignored', reason: 'malformed' }])
        },
      })),
    })
    const running = worker.run()
    try {
      const sent = await createSqsSender({ sqs: client, queueUrl: uploadsUrl, schema: ValidateImageMessage }).sendMessage({
        type: 'validate',
        image_id: ID,
      })
      const other = await createSqsSender({ sqs: client, queueUrl: jobsUrl, schema: ValidateImageMessage }).sendMessage({
        type: 'validate',
        image_id: ID,
      })

      const heard = await spy.waitForMessage(sent.messageId, 'ack')
      expect(heard).toMatchObject({ queue: uploadsUrl.split('/').at(-1), subjects: [{ id: ID, outcome: 'validated' }], settled: true })
      expect(JSON.parse(received.find((m) => m.messageId === sent.messageId)?.body ?? '')).toEqual({ type: 'validate', image_id: ID })
      expect((await spy.waitForMessage(other.messageId, 'ack')).queue).toBe(jobsUrl.split('/').at(-1))
    } finally {
      await worker.stop()
      await running
    }
  })

  it('leaves a retried message for redelivery with the visibility the handler asked for', async () => {
    const queueUrl = await newQueue()
    const spy = createMessageSpy()
    const worker = createQueueWorker({
      sqs: client,
      log: silentLog,
      waitTimeSeconds: 1,
      onProcessed: spy.listener,
      queues: [
        {
          queueUrl,
          concurrency: 1,
          handler: async (m) => (m.receiveCount === 1 ? retryMessage('NOT_YET', { afterSeconds: 0 }) : ackMessage()),
        },
      ],
    })
    const running = worker.run()
    try {
      const { messageId } = await createSqsSender({ sqs: client, queueUrl, schema: ValidateImageMessage }).sendMessage({
        type: 'validate',
        image_id: ID,
      })
      expect(await spy.waitForMessage(messageId, 'retry')).toMatchObject({ reason: 'NOT_YET', retryAfterSeconds: 0, receiveCount: 1 })
      expect(await spy.waitForMessage(messageId, 'ack')).toMatchObject({ receiveCount: 2 })
    } finally {
      await worker.stop()
      await running
    }
  })

  it('refuses a body that does not match the schema before sending it', async () => {
    const queueUrl = await newQueue()
    const sender = createSqsSender({ sqs: client, queueUrl, schema: ValidateImageMessage })
    const wrong = { type: 'validate', image_id: 'not-a-ulid' } as unknown as ValidateImageMessage
    await expect(sender.sendMessage(wrong)).rejects.toMatchObject({ code: 'INVALID_QUEUE_MESSAGE' })
  })

  it('answers QUEUE_UNAVAILABLE when the queue cannot be reached, for a send and for a ping', async () => {
    const port = await closedPort()
    const down = createSqsClient({
      region: sqs.region,
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    })
    try {
      const queueUrl = `http://127.0.0.1:${port}/000000000000/gone`
      await expect(
        createSqsSender({ sqs: down, queueUrl, schema: ValidateImageMessage }).sendMessage({ type: 'validate', image_id: ID }),
      ).rejects.toMatchObject({
        code: 'QUEUE_UNAVAILABLE',
      })
      await expect(pingQueue(down, queueUrl)).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE' })
      await expect(pingQueue(client, await newQueue())).resolves.toBeUndefined()
    } finally {
      down.destroy()
    }
  })
})
