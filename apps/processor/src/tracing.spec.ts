import { SpanKind, trace } from '@opentelemetry/api'
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base'
import { createMessageSpy, type ImageId, type MessageSpy, startTracing, type Tracing } from '@image-service/foundation'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createProcessorContainer } from './container.ts'
import {
  corpusFile,
  createQueueWithBridge,
  credentialsOf,
  processorConfig,
  silentLog,
  type Stack,
  startStack,
  upload,
} from './testing/harness.ts'

let stack: Stack
let tracing: Tracing
const exporter = new InMemorySpanExporter()
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  tracing = startTracing({ serviceName: 'image-service-processor', exporter })
  stack = await startStack(inject('databaseServerUrl'))
})
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  await stack?.stop()
  await tracing?.shutdown()
  trace.disable()
})

async function startProcessor(spy: MessageSpy) {
  const q = await createQueueWithBridge(stack, { maxReceiveCount: 3, visibilityTimeoutSeconds: 5 })
  const container = createProcessorContainer(processorConfig(stack, q.queueUrl), silentLog, {
    ...credentialsOf(stack),
    timings: { retryVisibilitySeconds: () => 0, receiveBackoffMs: () => 50 },
    onMessageProcessed: spy.listener,
  })
  const running = container.worker.run()
  cleanups.push(async () => {
    await container.close()
    await running
    await q.bridge.stop()
  })
  return q
}

const handled = (spy: MessageSpy, id: ImageId, outcome: string) =>
  spy.waitForMessage((m) => m.subjects.some((s) => s.id === id && s.outcome === outcome), 'ack')

describe('processor spans', () => {
  it('gives every delivery a consumer span that names its queue and carries the image id and the outcome', async () => {
    const spy = createMessageSpy()
    const q = await startProcessor(spy)
    const good = await upload(stack, 'image/png', corpusFile('valid-png-rgb-1024x768.png'))
    const bad = await upload(stack, 'image/jpeg', corpusFile('valid-png-rgb-1024x768.png'))
    await handled(spy, good, 'ready')
    await handled(spy, bad, 'failed')

    const queueName = q.queueUrl.split('/').at(-1) ?? ''
    const spans = exporter.getFinishedSpans().filter((span) => span.name === `process ${queueName}`)
    const about = (id: ImageId) => spans.find((span) => span.attributes['image.id'] === id)
    for (const [id, outcome] of [
      [good, 'ready'],
      [bad, 'failed'],
    ] as const) {
      const span = about(id)
      expect(span, `a span for ${outcome}`).toBeDefined()
      expect(span?.kind).toBe(SpanKind.CONSUMER)
      expect(span?.attributes).toMatchObject({
        'messaging.system': 'aws_sqs',
        'messaging.operation.name': 'process',
        'messaging.destination.name': queueName,
        'messaging.message.delivery_count': 1,
        'image_service.message.result': 'ack',
        'image_service.message.outcomes': [outcome],
      })
      expect(span?.attributes['messaging.message.id']).toEqual(expect.any(String))
      expect(span?.resource.attributes['service.name']).toBe('image-service-processor')
    }
  })
})
