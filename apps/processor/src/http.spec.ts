import { SendMessageCommand } from '@aws-sdk/client-sqs'
import { closedPort, toS3EventNotification } from '@image-service/devstack'
import { createMessageSpy, type ImageId, type MessageSpy, newImageId, objectKeyFor } from '@image-service/foundation'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
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

/** A processor container serving HTTP on a free port; its worker runs only when asked. */
async function startProcessor(queueUrl: string, env: Record<string, string> = {}, options: { spy?: MessageSpy; run?: boolean } = {}) {
  const container = createProcessorContainer(
    processorConfig(stack, queueUrl, { HOST: '127.0.0.1', PROCESSOR_HTTP_PORT: '0', ...env }),
    silentLog,
    {
      ...credentialsOf(stack),
      timings: { retryVisibilitySeconds: () => 0, receiveBackoffMs: () => 50 },
      ...(options.spy ? { onMessageProcessed: options.spy.listener } : {}),
    },
  )
  const { url } = await container.listen()
  const running = options.run ? container.worker.run() : Promise.resolve()
  cleanups.push(async () => {
    await container.close()
    await running
  })
  return { url, container }
}

/** The value of the sample `name{labels}` in Prometheus text, whatever the label order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match?.[1] !== name) continue
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3])
  }
  return undefined
}

const getJson = async (url: string) => {
  const response = await fetch(url)
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

describe('processor HTTP: /metrics and /health', () => {
  it('moves every counter: one validation per outcome, message durations and deliveries, default process metrics', async () => {
    const q = await createQueueWithBridge(stack, { maxReceiveCount: 3, visibilityTimeoutSeconds: 5 })
    cleanups.push(() => q.bridge.stop())
    const spy = createMessageSpy()
    const { url } = await startProcessor(q.queueUrl, {}, { spy, run: true })
    const send = async (body: unknown) =>
      (await stack.sqsClient.send(new SendMessageCommand({ QueueUrl: q.queueUrl, MessageBody: JSON.stringify(body) }))).MessageId ?? ''
    const eventFor = (id: ImageId) =>
      toS3EventNotification(
        {
          eventName: 'ObjectCreated:Put',
          bucket: stack.bucket,
          key: objectKeyFor(id),
          size: 1,
          eTag: 'e',
          eventTime: new Date(),
          sequencer: '01',
        },
        stack.s3.region,
      )

    const good = await upload(stack, 'image/png', corpusFile('valid-png-rgb-1024x768.png'))
    const bad = await upload(stack, 'image/gif', corpusFile('valid-png-rgb-1024x768.png'))
    await spy.waitForMessage((m) => m.subjects.some((s) => s.id === good && s.outcome === 'ready'), 'ack')
    await spy.waitForMessage((m) => m.subjects.some((s) => s.id === bad && s.outcome === 'failed'), 'ack')
    await spy.waitForMessage(await send(eventFor(good)), 'ack') // skipped: already ready
    await spy.waitForMessage(await send({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: stack.bucket }), 'ack') // ignored
    const retried = await spy.waitForMessage(await send(eventFor(newImageId())), 'retry') // no such record

    const response = await fetch(`${url}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/plain')
    const text = await response.text()
    const validations = (outcome: string, reason: string) => sample(text, 'image_validations_total', { outcome, reason })
    expect(validations('ready', 'none')).toBe(1)
    expect(validations('failed', 'type_mismatch')).toBe(1)
    expect(validations('skipped', 'ready')).toBe(1)
    expect(validations('ignored', 's3_testevent')).toBe(1)
    expect(validations('retry', retried.reason ?? '')).toBeGreaterThanOrEqual(1)

    const queue = {
      messaging_system: 'aws_sqs',
      messaging_destination_name: q.queueUrl.split('/').at(-1) ?? '',
      messaging_operation_name: 'process',
    }
    expect(sample(text, 'messaging_process_duration_seconds_count', queue)).toBeGreaterThanOrEqual(4)
    expect(sample(text, 'messaging_process_duration_seconds_sum', queue)).toBeGreaterThan(0)
    expect(sample(text, 'messaging_client_consumed_messages_total', queue)).toBeGreaterThanOrEqual(4)
    expect(sample(text, 'messaging_client_consumed_messages_total', { ...queue, error_type: retried.reason ?? '' })).toBeGreaterThanOrEqual(
      1,
    )
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0)
    // One approved upload: its variants once, in the default format.
    expect(sample(text, 'image_variants_duration_seconds_count')).toBe(1)
    expect(sample(text, 'image_variant_bytes_total', { format: 'webp' })).toBeGreaterThan(0)
  })

  it('is live and ready while the database and the queue answer', async () => {
    const { queueUrl } = await stack.sqs.createQueue(`ready-${newImageId().toLowerCase()}`)
    const { url } = await startProcessor(queueUrl)
    expect(await getJson(`${url}/health/liveness`)).toEqual({ status: 200, body: { status: 'ok' } })
    const name = queueUrl.split('/').at(-1)
    expect(await getJson(`${url}/health/readiness`)).toEqual({
      status: 200,
      body: { status: 'ok', checks: { database: 'ok', [`queue:${name}`]: 'ok' } },
    })
  })

  it('is not ready while the database cannot be reached, naming it', async () => {
    const { queueUrl } = await stack.sqs.createQueue(`nodb-${newImageId().toLowerCase()}`)
    const { url } = await startProcessor(queueUrl, { DATABASE_URL: `postgres://u:p@127.0.0.1:${await closedPort()}/none` })
    const name = queueUrl.split('/').at(-1)
    expect(await getJson(`${url}/health/readiness`)).toEqual({
      status: 503,
      body: { status: 'unavailable', checks: { database: 'DATABASE_UNAVAILABLE', [`queue:${name}`]: 'ok' } },
    })
    expect((await getJson(`${url}/health/liveness`)).status).toBe(200)
  })

  it('is not ready while the queue cannot be reached, naming it', async () => {
    const port = await closedPort()
    const { url } = await startProcessor(`http://127.0.0.1:${port}/000000000000/uploads`, { SQS_ENDPOINT: `http://127.0.0.1:${port}` })
    expect(await getJson(`${url}/health/readiness`)).toEqual({
      status: 503,
      body: { status: 'unavailable', checks: { database: 'ok', 'queue:uploads': 'QUEUE_UNAVAILABLE' } },
    })
  })

  it('asks for the bearer METRICS_TOKEN on /metrics when one is set, and only there', async () => {
    const { queueUrl } = await stack.sqs.createQueue(`token-${newImageId().toLowerCase()}`)
    const { url } = await startProcessor(queueUrl, { METRICS_TOKEN: 'scrape-secret-1234' })
    for (const authorization of [undefined, 'Bearer wrong', 'Bearer scrape-secret-12345', 'Basic scrape-secret-1234']) {
      const response = await fetch(`${url}/metrics`, { headers: authorization ? { authorization } : {} })
      expect(response.status, authorization).toBe(401)
      expect(response.headers.get('www-authenticate')).toBe('Bearer')
      expect(await response.json()).toMatchObject({ code: 'UNAUTHENTICATED' })
    }
    const scraped = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer scrape-secret-1234' } })
    expect(scraped.status).toBe(200)
    expect(await scraped.text()).toContain('image_validations_total')
    expect((await fetch(`${url}/health/liveness`)).status).toBe(200)
  })

  it('answers 404 for other paths and 405 for other methods', async () => {
    const { queueUrl } = await stack.sqs.createQueue(`paths-${newImageId().toLowerCase()}`)
    const { url } = await startProcessor(queueUrl)
    expect((await getJson(`${url}/api/health/liveness`)).status).toBe(404)
    const post = await fetch(`${url}/metrics`, { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
  })
})
