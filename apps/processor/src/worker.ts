import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs'
import type { Logger } from '@image-service/foundation'
import type { MessageHandler } from './handle-message.ts'

export type WorkerOptions = {
  sqs: SQSClient
  queueUrl: string
  handle: MessageHandler
  log: Logger
  waitTimeSeconds: number
  batchSize: number
  /** Messages handled at once; a receive asks for no more than the free slots. */
  concurrency: number
  /** Visibility for a message left for retry, by its receive count; undefined keeps the queue's. */
  retryVisibilitySeconds?: (receiveCount: number) => number | undefined
  /** Pause after the n-th consecutive failed receive (n from 1). */
  receiveBackoffMs?: (failures: number) => number
}

export type Worker = {
  /** Runs the receive loop; resolves once stop() was called and in-flight work finished. */
  run(): Promise<void>
  stop(): Promise<void>
}

/** 30 s, 60 s, 120 s ... up to 15 min: a dependency outage should not burn receive counts. */
export const defaultRetryVisibility = (receiveCount: number) => Math.min(30 * 2 ** Math.max(0, receiveCount - 1), 900)
export const defaultReceiveBackoff = (failures: number) => Math.min(1000 * 2 ** (failures - 1), 30_000)

export function createWorker(options: WorkerOptions): Worker {
  const { sqs, queueUrl, log } = options
  const stopping = new AbortController()
  const inFlight = new Set<Promise<void>>()
  let running: Promise<void> | undefined

  async function process(message: Message): Promise<void> {
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1')
    const disposition = await options
      .handle({ messageId: message.MessageId ?? '', body: message.Body ?? '', receiveCount })
      .catch((error: unknown) => {
        log.error({ err: error, messageId: message.MessageId }, 'message handler crashed')
        return 'retry' as const
      })
    try {
      if (disposition === 'ack') {
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }))
        return
      }
      const visibility = (options.retryVisibilitySeconds ?? defaultRetryVisibility)(receiveCount)
      if (visibility !== undefined) {
        await sqs.send(
          new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: visibility }),
        )
      }
    } catch (error) {
      // The message simply comes back after its visibility timeout; handling is idempotent.
      log.warn({ err: error, messageId: message.MessageId, disposition }, 'could not settle message')
    }
  }

  function startTask(message: Message): void {
    const task = process(message).finally(() => inFlight.delete(task))
    inFlight.add(task)
  }

  async function loop(): Promise<void> {
    let failures = 0
    while (!stopping.signal.aborted) {
      if (inFlight.size >= options.concurrency) {
        await Promise.race(inFlight)
        continue
      }
      try {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(options.batchSize, options.concurrency - inFlight.size),
            WaitTimeSeconds: options.waitTimeSeconds,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: stopping.signal },
        )
        failures = 0
        for (const message of Messages) startTask(message)
      } catch (error) {
        if (stopping.signal.aborted) break
        failures += 1
        const delayMs = (options.receiveBackoffMs ?? defaultReceiveBackoff)(failures)
        log.error({ err: error, failures, delayMs }, 'receive failed; backing off')
        await abortableDelay(delayMs, stopping.signal)
      }
    }
    // Messages already received are finished, so nothing waits out a visibility timeout.
    await Promise.all(inFlight)
  }

  return {
    run() {
      running ??= loop()
      return running
    },
    async stop() {
      stopping.abort()
      await (running ?? Promise.resolve())
    },
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
