import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSqsEmulator } from './sqs-emulator.ts'
import type { SqsEmulator } from './sqs-emulator.ts'

describe('SQS emulator', () => {
  let sqs: SqsEmulator
  let client: SQSClient

  beforeAll(async () => {
    sqs = await startSqsEmulator({ port: 0 })
    client = new SQSClient({
      endpoint: sqs.endpoint,
      region: sqs.region,
      credentials: { accessKeyId: sqs.accessKeyId, secretAccessKey: sqs.secretAccessKey },
    })
  })
  afterAll(async () => {
    client.destroy()
    await sqs.stop()
  })

  const receive = (queueUrl: string) =>
    client
      .send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }))
      .then((r) => r.Messages ?? [])

  it('moves a message received maxReceiveCount times without delete to the DLQ', async () => {
    // A zero visibility timeout makes a received-but-not-deleted message visible again at once,
    // which is exactly what a consumer that keeps failing looks like, without waiting.
    const { queueUrl, dlqUrl } = await sqs.createQueue('redrive', {
      dlq: { maxReceiveCount: 5 },
      visibilityTimeoutSeconds: 0,
    })
    expect(dlqUrl).toBeDefined()
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison' }))

    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const messages = await receive(queueUrl)
      expect(messages.map((m) => m.Body)).toEqual(['poison'])
    }
    expect(await receive(queueUrl)).toEqual([]) // the 6th receive moves it instead
    const dead = await receive(dlqUrl ?? '')
    expect(dead.map((m) => m.Body)).toEqual(['poison'])
  })

  it('hides a received message for the queue visibility timeout', async () => {
    const { queueUrl, dlqUrl } = await sqs.createQueue('hidden', { visibilityTimeoutSeconds: 30 })
    expect(dlqUrl).toBeUndefined()
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'once' }))
    expect((await receive(queueUrl)).map((m) => m.Body)).toEqual(['once'])
    expect(await receive(queueUrl)).toEqual([])
  })

  it('serves queue URLs on its own loopback endpoint', async () => {
    const { queueUrl } = await sqs.createQueue('where')
    expect(queueUrl.startsWith(`${sqs.endpoint}/`)).toBe(true)
  })
})
