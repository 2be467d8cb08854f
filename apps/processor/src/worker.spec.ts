import { randomBytes } from 'node:crypto'
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs'
import { closedPort, toS3EventNotification, waitFor } from '@image-service/devstack'
import { TEST_IMAGE_LIMITS } from '@image-service/devstack/corpus'
import {
  createMessageSpy,
  createQueueWorker,
  createSqsSender,
  createValidateImage,
  type ImageId,
  type MessageSpy,
  newImageId,
  objectKeyFor,
  type ProcessedMessage,
  ValidateImageMessage,
} from '@image-service/foundation'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { createProcessorContainer } from './container.ts'
import { createUploadsMessageHandler } from './handle-message.ts'
import {
  corpusFile,
  createQueueWithBridge,
  credentialsOf,
  messagesIn,
  processorConfig,
  silentLog,
  type Stack,
  startStack,
  upload,
} from './testing/harness.ts'

let stack: Stack
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  stack = await startStack(inject('databaseServerUrl'))
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  await stack?.stop()
})

const png = () => corpusFile('valid-png-rgb-1024x768.png')

async function queue(options = { maxReceiveCount: 3, visibilityTimeoutSeconds: 5 }) {
  const q = await createQueueWithBridge(stack, options)
  cleanups.push(() => q.bridge.stop())
  return q
}

/** A running processor (its own container, as in production) that tells `spy` every message; closed after the test. */
function startProcessor(queueUrl: string, spy: MessageSpy, env: Record<string, string> = {}) {
  const container = createProcessorContainer(processorConfig(stack, queueUrl, env), silentLog, {
    ...credentialsOf(stack),
    timings: { retryVisibilitySeconds: () => 0, receiveBackoffMs: () => 50 },
    onMessageProcessed: spy.listener,
  })
  const running = container.worker.run()
  cleanups.push(async () => {
    await container.close()
    await running
  })
  return container
}

/** The acknowledged message in which the image reached `outcome` (ready and failed are final). */
const handled = (spy: MessageSpy, id: ImageId, outcome: string) =>
  spy.waitForMessage((m) => m.subjects.some((s) => s.id === id && s.outcome === outcome), 'ack')

/** Every record outcome heard so far, as `outcome` or `outcome:reason`. */
function tally(messages: readonly ProcessedMessage[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const s of messages.flatMap((m) => m.subjects)) counts[s.outcome] = (counts[s.outcome] ?? 0) + 1
  return counts
}

/** The event S3 would send again for an object (at-least-once delivery); its message id. */
async function resendEvent(queueUrl: string, id: ImageId): Promise<string> {
  const event = {
    eventName: 'ObjectCreated:Put' as const,
    bucket: stack.bucket,
    key: objectKeyFor(id),
    size: 1,
    eTag: 'e',
    eventTime: new Date(),
    sequencer: '01',
  }
  const body = JSON.stringify(toS3EventNotification(event, stack.s3.region))
  const { MessageId } = await stack.sqsClient.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }))
  return MessageId ?? ''
}

describe('processor worker on the emulators', () => {
  it('marks a valid upload ready and a mismatched one failed (object deleted), then empties the queue', async () => {
    const q = await queue()
    const spy = createMessageSpy()
    const processor = startProcessor(q.queueUrl, spy)
    const bytes = png()
    const good = await upload(stack, 'image/png', bytes)
    const bad = await upload(stack, 'image/jpeg', bytes)

    await handled(spy, good, 'ready')
    expect((await handled(spy, bad, 'failed')).subjects).toEqual([
      expect.objectContaining({ id: bad, outcome: 'failed', reason: 'type_mismatch' }),
    ])
    expect(await stack.images.findById(good)).toMatchObject({ status: 'ready', sizeBytes: bytes.length, failureReason: null })
    expect(await stack.images.findById(bad)).toMatchObject({ status: 'failed', failureReason: 'type_mismatch', sizeBytes: null })
    expect(await stack.storage.getObjectMetadata(objectKeyFor(bad))).toBeNull()
    expect(await stack.storage.getObjectMetadata(objectKeyFor(good))).toEqual(expect.objectContaining({ sizeBytes: bytes.length }))
    // The spy hears a message once it was deleted.
    expect(await messagesIn(stack.sqsClient, q.queueUrl)).toBe(0)
    expect(await processor.validationMetrics.totals()).toEqual({ ready: 1, failed: 1 })
  })

  it('acknowledges a duplicate event without changing the record', async () => {
    const q = await queue()
    const spy = createMessageSpy()
    startProcessor(q.queueUrl, spy)
    const id = await upload(stack, 'image/png', png())
    await handled(spy, id, 'ready')
    const before = await stack.images.findById(id)

    for (const messageId of [await resendEvent(q.queueUrl, id), await resendEvent(q.queueUrl, id)]) {
      expect((await spy.waitForMessage(messageId, 'ack')).subjects).toEqual([
        expect.objectContaining({ id, outcome: 'skipped', reason: 'ready' }),
      ])
    }
    expect(await messagesIn(stack.sqsClient, q.queueUrl)).toBe(0)
    expect(await stack.images.findById(id)).toEqual(before)
  })

  it('retries while storage is unreachable, then the message lands in the DLQ and the record stays pending', async () => {
    const q = await queue({ maxReceiveCount: 2, visibilityTimeoutSeconds: 1 })
    const spy = createMessageSpy()
    startProcessor(q.queueUrl, spy, { S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}` })
    const id = await upload(stack, 'image/png', png())

    const deadLettered = await waitFor(
      async () => {
        const { Messages = [] } = await stack.sqsClient.send(new ReceiveMessageCommand({ QueueUrl: q.dlqUrl, WaitTimeSeconds: 1 }))
        return Messages[0]
      },
      { timeoutMs: 45_000, description: 'the message in the DLQ' },
    )
    expect(deadLettered.Body).toContain(objectKeyFor(id))
    const retries = spy.messages.filter((m) => m.outcome === 'retry')
    expect(retries.length).toBeGreaterThanOrEqual(2)
    for (const m of retries)
      expect(m).toMatchObject({ reason: 'STORAGE_UNAVAILABLE', subjects: [expect.objectContaining({ id, outcome: 'retry' })] })
    expect(await stack.images.findById(id)).toMatchObject({ status: 'pending' })
  })

  it('lets two workers share a queue of duplicated events without a record changing state twice', async () => {
    const q = await queue()
    const spy = createMessageSpy()
    startProcessor(q.queueUrl, spy)
    startProcessor(q.queueUrl, spy)
    const valid = await Promise.all([1, 2, 3].map(() => upload(stack, 'image/png', png())))
    const invalid = await Promise.all([1, 2, 3].map(() => upload(stack, 'image/webp', png())))
    for (const id of [...valid, ...invalid]) {
      await resendEvent(q.queueUrl, id)
      await resendEvent(q.queueUrl, id)
    }

    // 6 events from storage and 12 resent ones, each acknowledged once.
    const acked = () => spy.messages.filter((m) => m.outcome === 'ack')
    await waitFor(() => (acked().length === 18 ? true : undefined), { timeoutMs: 30_000, description: '18 acknowledged messages' })
    expect(await messagesIn(stack.sqsClient, q.queueUrl)).toBe(0)
    for (const record of await stack.images.findOwnedByIds('owner-a', valid)) expect(record.status).toBe('ready')
    for (const record of await stack.images.findOwnedByIds('owner-a', invalid))
      expect(record).toMatchObject({ status: 'failed', failureReason: 'type_mismatch' })
    // Exactly one transition per record over both workers; every other delivery was skipped.
    expect(tally(acked())).toEqual({ ready: 3, failed: 3, skipped: 12 })
  })

  it('validates on a validate message, and leaves the record pending when the object is not there yet', async () => {
    // No storage events on this queue: only the validate messages reach the processor.
    const { queueUrl } = await stack.sqs.createQueue(`q-${randomBytes(4).toString('hex')}`, { visibilityTimeoutSeconds: 5 })
    const spy = createMessageSpy()
    startProcessor(queueUrl, spy)
    const sender = createSqsSender({ sqs: stack.sqsClient, queueUrl, schema: ValidateImageMessage })
    const uploaded = await upload(stack, 'image/png', png())
    const notYet = newImageId()
    await stack.images.save({
      id: notYet,
      ownerId: 'owner-a',
      contentType: 'image/png',
      fileName: 'later.png',
      objectKey: objectKeyFor(notYet),
    })

    const first = await sender.sendMessage({ type: 'validate', image_id: uploaded })
    const second = await sender.sendMessage({ type: 'validate', image_id: notYet })
    expect((await spy.waitForMessage(first.messageId, 'ack')).subjects).toEqual([
      expect.objectContaining({ id: uploaded, outcome: 'ready' }),
    ])
    expect((await spy.waitForMessage(second.messageId, 'ack')).subjects).toEqual([
      expect.objectContaining({ id: notYet, outcome: 'skipped', reason: 'missing_object' }),
    ])
    expect(await stack.images.findById(uploaded)).toMatchObject({ status: 'ready' })
    expect(await stack.images.findById(notYet)).toMatchObject({ status: 'pending', failureReason: null })
  })

  it('stop() mid-batch finishes the messages already received, then resolves', async () => {
    const q = await queue({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 })
    const ids = await Promise.all([1, 2, 3, 4, 5, 6].map(() => upload(stack, 'image/png', png())))
    await waitFor(async () => ((await messagesIn(stack.sqsClient, q.queueUrl)) === ids.length ? true : undefined))

    // Hold every validation at a gate until stop() has been called, so stop lands mid-batch.
    let openGate = () => {}
    const gate = new Promise<void>((resolve) => (openGate = resolve))
    const started: ImageId[] = []
    const validate = createValidateImage({
      images: stack.images,
      storage: stack.storage,
      variants: stack.variants,
      limits: TEST_IMAGE_LIMITS,
    })
    const spy = createMessageSpy()
    const worker = createQueueWorker({
      sqs: stack.sqsClient,
      log: silentLog,
      waitTimeSeconds: 1,
      onProcessed: spy.listener,
      queues: [
        {
          queueUrl: q.queueUrl,
          concurrency: 3,
          handler: createUploadsMessageHandler({
            validate: async (ctx, id) => {
              started.push(id)
              await gate
              return validate(ctx, id)
            },
            storage: stack.storage,
            bucket: stack.bucket,
          }),
        },
      ],
    })
    const running = worker.run()
    await waitFor(() => (started.length > 0 ? true : undefined), { timeoutMs: 10_000, description: 'a validation in flight' })

    const stopped = worker.stop()
    openGate()
    await stopped
    await running

    const inFlight = [...started]
    expect(inFlight.length).toBeGreaterThan(0)
    expect(inFlight.length).toBeLessThanOrEqual(3)
    expect(spy.messages.map((m) => m.outcome)).toEqual(inFlight.map(() => 'ack'))
    const records = await stack.images.findOwnedByIds('owner-a', ids)
    for (const record of records) expect(record.status).toBe(inFlight.includes(record.id) ? 'ready' : 'pending')
    // The finished messages were deleted; the rest wait in the queue for the next worker.
    expect(await messagesIn(stack.sqsClient, q.queueUrl)).toBe(ids.length - inFlight.length)
  })
})
