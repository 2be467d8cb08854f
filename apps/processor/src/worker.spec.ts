import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs'
import { closedPort, toS3EventNotification, waitFor } from '@image-service/devstack'
import { TEST_IMAGE_LIMITS } from '@image-service/devstack/corpus'
import { createValidateImage, type ImageId, type ImageRecord, objectKeyFor } from '@image-service/foundation'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { createProcessorContainer } from './container.ts'
import { createMessageHandler } from './handle-message.ts'
import { createOutcomeMetrics } from './metrics.ts'
import { createWorker } from './worker.ts'
import { createQueueWithBridge, credentialsOf, messagesIn, processorConfig, silentLog, type Stack, startStack, upload, corpusFile } from './testing/harness.ts'

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

/** A running processor (its own container, as in production); closed after the test. */
function startProcessor(queueUrl: string, env: Record<string, string> = {}) {
  const container = createProcessorContainer(processorConfig(stack, queueUrl, env), silentLog, {
    ...credentialsOf(stack),
    timings: { retryVisibilitySeconds: () => 0, receiveBackoffMs: () => 50 },
  })
  const running = container.worker.run()
  cleanups.push(async () => {
    await container.close()
    await running
  })
  return container
}

async function finalStates(ids: ImageId[]): Promise<Map<ImageId, ImageRecord>> {
  return waitFor(
    async () => {
      const records = await stack.images.findByIds(ids)
      const done = records.length === ids.length && records.every((r) => r.status !== 'pending')
      return done ? new Map(records.map((r) => [r.id, r])) : undefined
    },
    { timeoutMs: 30_000, description: 'every record in a final state' },
  )
}

async function queueDrained(queueUrl: string): Promise<void> {
  await waitFor(async () => ((await messagesIn(stack.sqsClient, queueUrl)) === 0 ? true : undefined), {
    timeoutMs: 30_000,
    description: 'an empty queue',
  })
}

/** The event S3 would send again for an object (at-least-once delivery). */
async function resendEvent(queueUrl: string, id: ImageId): Promise<void> {
  const event = { eventName: 'ObjectCreated:Put' as const, bucket: stack.bucket, key: objectKeyFor(id), size: 1, eTag: 'e', eventTime: new Date(), sequencer: '01' }
  const body = JSON.stringify(toS3EventNotification(event, stack.s3.region))
  await stack.sqsClient.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }))
}

describe('processor worker on the emulators', () => {
  it('marks a valid upload ready and a mismatched one failed (object deleted), then empties the queue', async () => {
    const q = await queue()
    const processor = startProcessor(q.queueUrl)
    const bytes = png()
    const good = await upload(stack, 'image/png', bytes)
    const bad = await upload(stack, 'image/jpeg', bytes)

    const records = await finalStates([good, bad])
    expect(records.get(good)).toMatchObject({ status: 'ready', sizeBytes: bytes.length, failureReason: null })
    expect(records.get(bad)).toMatchObject({ status: 'failed', failureReason: 'type_mismatch', sizeBytes: null })
    expect(await stack.storage.getObjectMetadata(objectKeyFor(bad))).toBeNull()
    expect(await stack.storage.getObjectMetadata(objectKeyFor(good))).toEqual(expect.objectContaining({ sizeBytes: bytes.length }))
    await queueDrained(q.queueUrl)
    expect(processor.metrics.snapshot().byOutcome).toEqual({ ready: 1, failed: 1 })
  })

  it('acknowledges a duplicate event without changing the record', async () => {
    const q = await queue()
    const processor = startProcessor(q.queueUrl)
    const id = await upload(stack, 'image/png', png())
    const before = (await finalStates([id])).get(id)

    await resendEvent(q.queueUrl, id)
    await resendEvent(q.queueUrl, id)
    await waitFor(() => (processor.metrics.snapshot().byReason['skipped:ready'] === 2 ? true : undefined), { timeoutMs: 30_000 })
    await queueDrained(q.queueUrl)
    expect(await stack.images.findById(id)).toEqual(before)
  })

  it('retries while storage is unreachable, then the message lands in the DLQ and the record stays pending', async () => {
    const q = await queue({ maxReceiveCount: 2, visibilityTimeoutSeconds: 1 })
    const processor = startProcessor(q.queueUrl, { S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}` })
    const id = await upload(stack, 'image/png', png())

    const deadLettered = await waitFor(
      async () => {
        const { Messages = [] } = await stack.sqsClient.send(new ReceiveMessageCommand({ QueueUrl: q.dlqUrl, WaitTimeSeconds: 1 }))
        return Messages[0]
      },
      { timeoutMs: 45_000, description: 'the message in the DLQ' },
    )
    expect(deadLettered.Body).toContain(objectKeyFor(id))
    expect(processor.metrics.snapshot().byReason['retry:STORAGE_UNAVAILABLE']).toBeGreaterThanOrEqual(2)
    expect(await stack.images.findById(id)).toMatchObject({ status: 'pending' })
  })

  it('lets two workers share a queue of duplicated events without a record changing state twice', async () => {
    const q = await queue()
    const first = startProcessor(q.queueUrl)
    const second = startProcessor(q.queueUrl)
    const valid = await Promise.all([1, 2, 3].map(() => upload(stack, 'image/png', png())))
    const invalid = await Promise.all([1, 2, 3].map(() => upload(stack, 'image/webp', png())))
    for (const id of [...valid, ...invalid]) {
      await resendEvent(q.queueUrl, id)
      await resendEvent(q.queueUrl, id)
    }

    const records = await finalStates([...valid, ...invalid])
    await queueDrained(q.queueUrl)
    for (const id of valid) expect(records.get(id)?.status).toBe('ready')
    for (const id of invalid) expect(records.get(id)).toMatchObject({ status: 'failed', failureReason: 'type_mismatch' })
    const counts = [first, second].map((p) => p.metrics.snapshot().byOutcome)
    const total = (outcome: string) => counts.reduce((sum, c) => sum + (c[outcome] ?? 0), 0)
    // Exactly one transition per record over both workers; every other delivery was skipped.
    expect({ ready: total('ready'), failed: total('failed'), skipped: total('skipped') }).toEqual({ ready: 3, failed: 3, skipped: 12 })
  })

  it('stop() mid-batch finishes the messages already received, then resolves', async () => {
    const q = await queue({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 })
    const ids = await Promise.all([1, 2, 3, 4, 5, 6].map(() => upload(stack, 'image/png', png())))
    await waitFor(async () => ((await messagesIn(stack.sqsClient, q.queueUrl)) === ids.length ? true : undefined))

    // Hold every validation at a gate until stop() has been called, so stop lands mid-batch.
    let openGate = () => {}
    const gate = new Promise<void>((resolve) => (openGate = resolve))
    const started: ImageId[] = []
    const validate = createValidateImage({ images: stack.images, storage: stack.storage, limits: TEST_IMAGE_LIMITS })
    const metrics = createOutcomeMetrics()
    const worker = createWorker({
      sqs: stack.sqsClient,
      queueUrl: q.queueUrl,
      handle: createMessageHandler({
        validate: async (ctx, id) => {
          started.push(id)
          await gate
          return validate(ctx, id)
        },
        bucket: stack.bucket,
        log: silentLog,
        metrics,
      }),
      log: silentLog,
      waitTimeSeconds: 1,
      batchSize: 10,
      concurrency: 3,
    })
    const running = worker.run()
    await waitFor(() => (started.length > 0 ? true : undefined), { timeoutMs: 10_000, description: 'a validation in flight' })

    const stopped = worker.stop()
    openGate()
    await stopped
    await running

    const handled = [...started]
    expect(handled.length).toBeGreaterThan(0)
    expect(handled.length).toBeLessThanOrEqual(3)
    const records = await stack.images.findByIds(ids)
    for (const record of records) expect(record.status).toBe(handled.includes(record.id) ? 'ready' : 'pending')
    // The finished messages were deleted; the rest wait in the queue for the next worker.
    expect(await messagesIn(stack.sqsClient, q.queueUrl)).toBe(ids.length - handled.length)
  })
})
