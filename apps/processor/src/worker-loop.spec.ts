import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs'
import { waitFor } from '@image-service/devstack'
import { describe, expect, it } from 'vitest'
import type { MessageDisposition, QueueMessage } from './handle-message.ts'
import { silentLog } from './testing/harness.ts'
import { createWorker } from './worker.ts'

/**
 * A hand-written SQS fake: receives are served from `batches` (then hang until aborted, like
 * an empty long poll), every command is recorded.
 */
class FakeSqs {
  readonly commands: { name: string; input: Record<string, unknown> }[] = []
  readonly batches: (Message[] | Error)[] = []

  async send(command: { input: Record<string, unknown> }, options: { abortSignal?: AbortSignal } = {}): Promise<unknown> {
    const name = command.constructor.name
    this.commands.push({ name, input: command.input })
    if (!(command instanceof ReceiveMessageCommand)) return {}
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
}

const message = (id: string, receiveCount = 1): Message => ({
  MessageId: id,
  ReceiptHandle: `rh-${id}`,
  Body: '{}',
  Attributes: { ApproximateReceiveCount: String(receiveCount) },
})

function worker(sqs: FakeSqs, handle: (m: QueueMessage) => Promise<MessageDisposition>, concurrency = 4) {
  return createWorker({
    sqs: sqs as unknown as SQSClient,
    queueUrl: 'http://queue',
    handle,
    log: silentLog,
    waitTimeSeconds: 20,
    batchSize: 10,
    concurrency,
    retryVisibilitySeconds: (n) => n * 10,
    receiveBackoffMs: () => 1,
  })
}

describe('worker loop', () => {
  it('stop() aborts the pending 20 s long poll and resolves', async () => {
    const sqs = new FakeSqs()
    const w = worker(sqs, async () => 'ack')
    const running = w.run()
    await waitFor(() => (sqs.count(ReceiveMessageCommand) === 1 ? true : undefined))
    await w.stop()
    await running
    expect(sqs.commands[0]?.input).toMatchObject({ WaitTimeSeconds: 20, MessageSystemAttributeNames: ['ApproximateReceiveCount'] })
  })

  it('deletes acknowledged messages and backs off retried ones by their receive count', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('a'), message('b', 3)])
    const w = worker(sqs, async (m) => (m.messageId === 'a' ? 'ack' : 'retry'))
    const running = w.run()
    await waitFor(() => (sqs.count(DeleteMessageCommand) + sqs.count(ChangeMessageVisibilityCommand) === 2 ? true : undefined))
    await w.stop()
    await running
    expect(sqs.commands.find((c) => c.name === 'DeleteMessageCommand')?.input).toMatchObject({ ReceiptHandle: 'rh-a' })
    expect(sqs.commands.find((c) => c.name === 'ChangeMessageVisibilityCommand')?.input).toMatchObject({ ReceiptHandle: 'rh-b', VisibilityTimeout: 30 })
  })

  it('treats a crashing handler as a retry, never a delete', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('x')])
    const w = worker(sqs, async () => {
      throw new Error('bug')
    })
    const running = w.run()
    await waitFor(() => (sqs.count(ChangeMessageVisibilityCommand) === 1 ? true : undefined))
    await w.stop()
    await running
    expect(sqs.count(DeleteMessageCommand)).toBe(0)
  })

  it('survives failed receives and keeps polling', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push(new Error('connection reset'), new Error('connection reset'), [message('m')])
    const handled: string[] = []
    const w = worker(sqs, async (m) => {
      handled.push(m.messageId)
      return 'ack'
    })
    const running = w.run()
    await waitFor(() => (sqs.count(DeleteMessageCommand) === 1 ? true : undefined))
    await w.stop()
    await running
    expect(handled).toEqual(['m'])
    expect(sqs.count(ReceiveMessageCommand)).toBeGreaterThanOrEqual(3)
  })

  it('never runs more handlers at once than its concurrency, asking only for free slots', async () => {
    const sqs = new FakeSqs()
    sqs.batches.push([message('1'), message('2')], [message('3'), message('4')])
    let active = 0
    let peak = 0
    const release: (() => void)[] = []
    const w = worker(
      sqs,
      async () => {
        active += 1
        peak = Math.max(peak, active)
        await new Promise<void>((resolve) => release.push(resolve))
        active -= 1
        return 'ack'
      },
      2,
    )
    const running = w.run()
    await waitFor(() => (release.length === 2 ? true : undefined))
    expect(sqs.count(ReceiveMessageCommand)).toBe(1)
    for (const r of release.splice(0)) r()
    await waitFor(() => (release.length === 2 ? true : undefined))
    for (const r of release.splice(0)) r()
    await waitFor(() => (sqs.count(DeleteMessageCommand) === 4 ? true : undefined))
    await w.stop()
    await running
    expect(peak).toBe(2)
    expect(sqs.commands.filter((c) => c.name === 'ReceiveMessageCommand').map((c) => c.input.MaxNumberOfMessages)[0]).toBe(2)
  })
})
