import type { SQSClient } from '@aws-sdk/client-sqs'
import type { Logger } from '../../common/logger.ts'
import type { MessageHandler, MessageProcessedListener } from './message.ts'
import { createSqsConsumer, type QueueConsumer, type RetryTimings } from './sqs-consumer.ts'
import type { MessageDeleter } from './sqs-message-deletes.ts'

/** One consumed queue: where, what handles its messages, how many at once. */
export type QueueConsumerConfig = {
  queueUrl: string
  name?: string
  handler: MessageHandler
  concurrency: number
  /** The span attribute for the handler's subject ids (`image.id` unless given). */
  subjectAttribute?: string
  /** Hears this queue's messages only, before the worker-wide listener. */
  onProcessed?: MessageProcessedListener
}

export type QueueWorkerOptions = RetryTimings & {
  sqs: SQSClient
  log: Logger
  queues: QueueConsumerConfig[]
  batchSize?: number
  waitTimeSeconds?: number
  /** How every queue's acked messages are deleted (createSqsMessageDeletes); the SDK's DeleteMessage unless given. */
  deleteMessage?: MessageDeleter
  /** Hears every queue's messages, after the queue's own listener (messaging metrics, a test spy). */
  onProcessed?: MessageProcessedListener
}

export type QueueWorker = {
  readonly consumers: readonly QueueConsumer[]
  /** Runs one loop per queue; resolves once stop() was called and every loop drained. */
  run(): Promise<void>
  stop(): Promise<void>
}

/** Several queues (uploads, jobs) under one lifecycle: started together, stopped together. */
export function createQueueWorker(options: QueueWorkerOptions): QueueWorker {
  const { queues, onProcessed, ...common } = options
  const consumers = queues.map((queue) =>
    createSqsConsumer({
      ...common,
      queueUrl: queue.queueUrl,
      handler: queue.handler,
      concurrency: queue.concurrency,
      ...(queue.name === undefined ? {} : { name: queue.name }),
      ...(queue.subjectAttribute === undefined ? {} : { subjectAttribute: queue.subjectAttribute }),
      onProcessed: (event) => {
        queue.onProcessed?.(event)
        onProcessed?.(event)
      },
    }),
  )
  let running: Promise<void> | undefined
  return {
    consumers,
    run() {
      running ??= Promise.all(consumers.map((c) => c.run())).then(() => undefined)
      return running
    },
    async stop() {
      await Promise.all(consumers.map((c) => c.stop()))
    },
  }
}
