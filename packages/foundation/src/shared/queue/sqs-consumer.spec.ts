import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs'
import { waitFor } from '@image-service/devstack'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../common/logger.ts'
import { ackMessage, type MessageHandler, type ProcessedMessage, retryMessage } from './message.ts'
import { createSqsConsumer, defaultRetryVisibility, receiveThreshold, type SqsConsumerOptions } from './sqs-consumer.ts'

const silentLog = createLogger({ level: 'silent' })

/**
 * A hand-written SQS fake: receives are served from `batches` (then hang until aborted, like
 * an empty long poll), every command is recorded; `failSettle` makes deletes and visibility
 * changes throw.
 */
class FakeSqs {
  readonly commands: { name: string; input: Record<string, unknown> }[] = []
  readonly batches: (Message[] | Error)[] = []
  failSettle = false

  async send(command: { input: Record<string, unknown> }, options: { abortSignal?: AbortSignal } = {}): Promise<unknown> {
    const name = command.constructor.name
    this.commands.push({ name, input: command.input })
    if (!(command instanceof ReceiveMessageCommand)) {
      if (this.failSettle) throw new Error('connection reset')
      return {}
    }
    const next = this.batches.shift()
    if (next instanceof Error) throw next
    if (next !== undefined) return { Messages: next }
    return new Promise((_resolve, reject) => {
      options.abortSignal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })))
    })
  }

  count(type: { name: string }) {
    return this.commands.filter((c) => c.name === type.name).length
  }

  input(type: { name: string }) {
    return this.commands.find((c) => c.name === type.name)?.input
  }
}

const message = (id: string, receiveCount = 1): Message => ({
  MessageId: id,
  ReceiptHandle: `rh-${id}`,
  Body: `body-${id}`,
  Attributes: { ApproximateReceiveCount: String(receiveCount) },
})

function consumer(sqs: FakeSqs, handler: MessageHandler, overrides: Partial<SqsConsumerOptions> = {}) {
  const heard: ProcessedMessage[] = []
  const c = createSqsConsumer({
    sqs: sqs as unknown as SQSClient,
    queueUrl: 'http://sqs.local/000000000000/image-uploads',
    handler,
    log: silentLog,
    waitTimeSeconds: 20,
    batchSize: 10,
    concurrency: 4,
    retryVisibilitySeconds: (n, requested) => requested ?? n * 10,
    receiveBackoffMs: () => 1,
    onProcessed: (event) => heard.push(event),
    ...overrides,
  })
  return { c, heard, running: c.run() }
}

describe('createSqsConsumer', () => {
  it('stop() aborts the pending 20 s long poll and resolves', async () => {
    const sqs = new FakeSqs()
    const { c, running } = consumer(sqs, async () => ackMessage())
    await waitFor(() => (sqs.count(ReceiveMessageCommand) === 1 ? true : undefined))
    await c.stop()
    await running
    expect(sqs.commands[0]?.input).toMatchObject({ WaitTimeSeconds: 20, MessageSystemAttributeNames: ['ApproximateReceiveCount'] })
  })

  it('deletes acknowledged messages and backs off retried ones by their receive count', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('a'), message('b', 3)])
    const { c, heard, running } = consumer(sqs, async (m) => (m.messageId === 'a' ? ackMessage() : retryMessage('DATABASE_UNAVAILABLE')))
    await waitFor(() => (heard.length === 2 ? true : undefined))
    await c.stop()
    await running
    expect(sqs.input(DeleteMessageCommand)).toMatchObject({ ReceiptHandle: 'rh-a' })
    expect(sqs.input(ChangeMessageVisibilityCommand)).toMatchObject({ ReceiptHandle: 'rh-b', VisibilityTimeout: 30 })
  })

  it('acknowledges through the deleter it was given, with the queue URL and receipt handle', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('a'), message('b')])
    const deleted: string[][] = []
    const { c, heard, running } = consumer(sqs, async () => ackMessage(), {
      deleteMessage: async (queueUrl, receiptHandle) => {
        deleted.push([queueUrl, receiptHandle])
      },
    })
    await waitFor(() => (heard.length === 2 ? true : undefined))
    await c.stop()
    await running
    expect(deleted.sort()).toEqual([
      ['http://sqs.local/000000000000/image-uploads', 'rh-a'],
      ['http://sqs.local/000000000000/image-uploads', 'rh-b'],
    ])
    expect(sqs.count(DeleteMessageCommand)).toBe(0)
    expect(heard.every((e) => e.settled)).toBe(true)
  })

  it("honours a retry's afterSeconds, clamped to SQS's 12 hours", async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('soon')], [message('late')])
    const { c, heard, running } = consumer(sqs, async (m) =>
      retryMessage('PROVIDER_BUSY', { afterSeconds: m.messageId === 'soon' ? 7 : 100_000 }),
    )
    await waitFor(() => (heard.length === 2 ? true : undefined))
    await c.stop()
    await running
    const visibilities = sqs.commands.filter((x) => x.name === 'ChangeMessageVisibilityCommand').map((x) => x.input.VisibilityTimeout)
    expect(visibilities).toEqual([7, 43_200])
    expect(heard.map((e) => e.retryAfterSeconds)).toEqual([7, 43_200])
  })

  it('tells each processed message to its listener: queue, id, outcome, reason, subjects, duration', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('m', 2)])
    const subjects = [{ id: '01JD5Z8Q3M4N5P6R7S8T9V0W1X', outcome: 'ready', durationMs: 3 }]
    const { c, heard, running } = consumer(sqs, async (m) => {
      expect(m).toEqual({ queue: 'image-uploads', messageId: 'm', body: 'body-m', receiveCount: 2 })
      return ackMessage(subjects)
    })
    await waitFor(() => heard[0])
    await c.stop()
    await running
    expect(heard[0]).toMatchObject({ queue: 'image-uploads', messageId: 'm', receiveCount: 2, outcome: 'ack', subjects, settled: true })
    expect(heard[0]?.reason).toBeUndefined()
    expect(heard[0]?.durationMs).toBeGreaterThanOrEqual(0)
  })

  it('treats a crashing handler as a retry, never a delete, and reports the error', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('x')])
    const bug = new Error('bug')
    const { c, heard, running } = consumer(sqs, async () => {
      throw bug
    })
    await waitFor(() => heard[0])
    await c.stop()
    await running
    expect(sqs.count(DeleteMessageCommand)).toBe(0)
    expect(sqs.count(ChangeMessageVisibilityCommand)).toBe(1)
    expect(heard[0]).toMatchObject({ outcome: 'retry', reason: 'HANDLER_CRASHED', error: bug })
  })

  it('reports a message it could not delete as unsettled, and keeps going', async () => {
    const sqs = new FakeSqs()
    sqs.failSettle = true
    sqs.batches.push([message('a')], [message('b')])
    const { c, heard, running } = consumer(sqs, async () => ackMessage())
    await waitFor(() => (heard.length === 2 ? true : undefined))
    await c.stop()
    await running
    expect(heard.map((e) => [e.messageId, e.outcome, e.settled])).toEqual([
      ['a', 'ack', false],
      ['b', 'ack', false],
    ])
  })

  it('survives failed receives and keeps polling', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push(new Error('connection reset'), new Error('connection reset'), [message('m')])
    const { c, heard, running } = consumer(sqs, async () => ackMessage())
    await waitFor(() => heard[0])
    await c.stop()
    await running
    expect(heard.map((e) => e.messageId)).toEqual(['m'])
    expect(sqs.count(ReceiveMessageCommand)).toBeGreaterThanOrEqual(3)
  })

  it('never runs more handlers at once than its concurrency, asking only for free slots', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('1'), message('2')], [message('3'), message('4')])
    let active = 0
    let peak = 0
    const release: (() => void)[] = []
    const { c, heard, running } = consumer(
      sqs,
      async () => {
        active += 1
        peak = Math.max(peak, active)
        await new Promise<void>((resolve) => release.push(resolve))
        active -= 1
        return ackMessage()
      },
      { concurrency: 2 },
    )
    await waitFor(() => (release.length === 2 ? true : undefined))
    expect(sqs.count(ReceiveMessageCommand)).toBe(1)
    for (const r of release.splice(0)) r()
    await waitFor(() => (release.length === 2 ? true : undefined))
    for (const r of release.splice(0)) r()
    await waitFor(() => (heard.length === 4 ? true : undefined))
    await c.stop()
    await running
    expect(peak).toBe(2)
    expect(sqs.input(ReceiveMessageCommand)?.MaxNumberOfMessages).toBe(2)
  })

  it('under load, waits for half its slots to be free before it receives again, so one receive brings several messages', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('1'), message('2'), message('3'), message('4')], [message('5'), message('6')])
    const release = new Map<string, () => void>()
    const { c, heard, running } = consumer(
      sqs,
      async (m) => {
        await new Promise<void>((resolve) => release.set(m.messageId, resolve))
        return ackMessage()
      },
      { concurrency: 4 },
    )
    await waitFor(() => (release.size === 4 ? true : undefined))
    // One slot free: not yet a receive.
    release.get('1')?.()
    await waitFor(() => (heard.length === 1 ? true : undefined))
    expect(sqs.count(ReceiveMessageCommand)).toBe(1)
    // Two free: one receive, for both.
    release.get('2')?.()
    await waitFor(() => (sqs.count(ReceiveMessageCommand) === 2 ? true : undefined))
    expect(sqs.commands.filter((cmd) => cmd.name === 'ReceiveMessageCommand').map((cmd) => cmd.input.MaxNumberOfMessages)).toEqual([4, 2])
    await waitFor(() => (release.size === 6 ? true : undefined))
    for (const id of ['3', '4', '5', '6']) release.get(id)?.()
    await waitFor(() => (heard.length === 6 ? true : undefined))
    await c.stop()
    await running
  })

  it('receives again as soon as one slot is free when its concurrency is 1', () => {
    expect(receiveThreshold(1, 10)).toBe(1)
    expect(receiveThreshold(4, 10)).toBe(2)
    expect(receiveThreshold(16, 10)).toBe(8)
    expect(receiveThreshold(40, 10)).toBe(10)
    expect(receiveThreshold(16, 1)).toBe(1)
  })

  it('finishes and settles the messages in flight when stopped', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('slow')])
    let release = () => {}
    const { c, heard, running } = consumer(sqs, async () => {
      await new Promise<void>((resolve) => (release = resolve))
      return ackMessage()
    })
    await waitFor(() => (sqs.count(ReceiveMessageCommand) === 2 ? true : undefined))
    const stopped = c.stop()
    release()
    await stopped
    await running
    expect(heard.map((e) => e.messageId)).toEqual(['slow'])
    expect(sqs.count(DeleteMessageCommand)).toBe(1)
  })
})

describe('defaultRetryVisibility', () => {
  it('doubles from 30 s by receive count up to 15 min, unless the handler asked for a delay', () => {
    expect([1, 2, 3, 6, 7, 20].map((n) => defaultRetryVisibility(n))).toEqual([30, 60, 120, 900, 900, 900])
    expect(defaultRetryVisibility(5, 12)).toBe(12)
  })
})
