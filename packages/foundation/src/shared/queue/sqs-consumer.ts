import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs'
import { type Span, SpanStatusCode } from '@opentelemetry/api'
import type { Logger } from '../../common/logger.ts'
import { IMAGE_ID_ATTRIBUTE, inSpan, SpanKind } from '../../common/tracing.ts'
import { HANDLER_CRASHED, type MessageHandler, type MessageProcessedListener, type MessageResult } from './message.ts'
import type { MessageDeleter } from './sqs-message-deletes.ts'

export type RetryTimings = {
  /**
   * Visibility for a message left for retry, from its receive count and the handler's
   * `afterSeconds`; undefined keeps the queue's own. Default: `defaultRetryVisibility`.
   */
  retryVisibilitySeconds?: (receiveCount: number, requestedSeconds: number | undefined) => number | undefined
  /** Pause after the n-th consecutive failed receive (n from 1). */
  receiveBackoffMs?: (failures: number) => number
}

export type SqsConsumerOptions = RetryTimings & {
  sqs: SQSClient
  queueUrl: string
  /** Name in logs and metrics; the last segment of the URL by default. */
  name?: string
  handler: MessageHandler
  log: Logger
  /**
   * Messages handled at once; a receive asks for no more than the free slots, and waits until
   * there are enough of them to fill a batch (see receiveThreshold).
   */
  concurrency: number
  /** Messages per receive, at most 10 (SQS's limit). */
  batchSize?: number
  /** Long-poll wait of each receive, at most 20 s. */
  waitTimeSeconds?: number
  onProcessed?: MessageProcessedListener
  /** The span attribute the handler's subject ids go in (`image.id` unless given; `job.id` for jobs). */
  subjectAttribute?: string
  /** How an acked message is deleted; the SDK's DeleteMessage unless given (createSqsMessageDeletes). */
  deleteMessage?: MessageDeleter
}

export type QueueConsumer = {
  readonly queue: string
  readonly queueUrl: string
  /** Runs the receive loop; resolves once stop() was called and in-flight work finished. */
  run(): Promise<void>
  stop(): Promise<void>
}

/** SQS's ceiling for a visibility timeout: 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200

/**
 * The handler's wish if it has one, else 30 s, 60 s, 120 s ... up to 15 min by receive count:
 * a dependency outage should not burn receive counts in seconds.
 */
export const defaultRetryVisibility = (receiveCount: number, requestedSeconds?: number): number =>
  requestedSeconds ?? Math.min(30 * 2 ** Math.max(0, receiveCount - 1), 900)
/**
 * Free slots the loop waits for before it receives again: a full batch, or half the
 * concurrency when that is smaller (at least 1). Receiving as soon as one slot frees would,
 * under load, make one ReceiveMessage per message (each a billed SQS request and about 1.4 ms
 * of the SDK's CPU here); waiting for half the slots keeps at least half of them busy and
 * receives several messages per call.
 */
export const receiveThreshold = (concurrency: number, batchSize: number): number =>
  Math.max(1, Math.min(batchSize, Math.ceil(concurrency / 2)))

export const defaultReceiveBackoff = (failures: number): number => Math.min(1000 * 2 ** (failures - 1), 30_000)

export const queueNameOf = (queueUrl: string): string => queueUrl.split('/').filter(Boolean).at(-1) ?? queueUrl

/**
 * One queue's long-poll loop. A message is deleted only when its handler returned `ack`; a
 * `retry` (or a thrown error) changes its visibility and leaves it to SQS, whose redrive
 * policy moves it to the DLQ after maxReceiveCount. stop() aborts the pending long poll and
 * waits for the messages already received, so none waits out a visibility timeout.
 */
export function createSqsConsumer(options: SqsConsumerOptions): QueueConsumer {
  const { sqs, queueUrl, log } = options
  const queue = options.name ?? queueNameOf(queueUrl)
  const retryVisibility = options.retryVisibilitySeconds ?? defaultRetryVisibility
  const receiveBackoff = options.receiveBackoffMs ?? defaultReceiveBackoff
  const subjectAttribute = options.subjectAttribute ?? IMAGE_ID_ATTRIBUTE
  const deleteMessage: MessageDeleter =
    options.deleteMessage ??
    (async (url, receiptHandle) => {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: receiptHandle }))
    })
  const stopping = new AbortController()
  const inFlight = new Set<Promise<void>>()
  let running: Promise<void> | undefined

  async function process(message: Message): Promise<void> {
    const messageId = message.MessageId ?? ''
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1')
    const started = performance.now()
    let error: unknown
    // One consumer span per delivery (OTel messaging conventions), carrying what it was about.
    const result: MessageResult = await inSpan(
      `process ${queue}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'aws_sqs',
          'messaging.operation.name': 'process',
          'messaging.operation.type': 'process',
          'messaging.destination.name': queue,
          'messaging.message.id': messageId,
          'messaging.message.delivery_count': receiveCount,
        },
        describe: (settledResult, span) => describeResult(span, settledResult, subjectAttribute, error),
      },
      () =>
        options.handler({ queue, messageId, body: message.Body ?? '', receiveCount }).catch((caught: unknown): MessageResult => {
          error = caught
          log.error({ err: caught, queue, messageId }, 'message handler crashed')
          return { type: 'retry', reason: HANDLER_CRASHED }
        }),
    )
    const durationMs = performance.now() - started

    let settled = true
    let retryAfterSeconds: number | undefined
    try {
      if (result.type === 'ack') {
        await deleteMessage(queueUrl, message.ReceiptHandle ?? '')
      } else {
        const wanted = retryVisibility(receiveCount, result.afterSeconds)
        if (wanted !== undefined) {
          retryAfterSeconds = Math.min(Math.max(0, Math.round(wanted)), MAX_VISIBILITY_SECONDS)
          await sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: queueUrl,
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: retryAfterSeconds,
            }),
          )
        }
      }
    } catch (settleError) {
      // The message simply comes back after its visibility timeout; handling is idempotent.
      settled = false
      log.warn({ err: settleError, queue, messageId, outcome: result.type }, 'could not settle message')
    }

    try {
      options.onProcessed?.({
        queue,
        messageId,
        receiveCount,
        outcome: result.type,
        ...(result.type === 'retry' ? { reason: result.reason } : {}),
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
        subjects: result.subjects ?? [],
        durationMs,
        settled,
        ...(error === undefined ? {} : { error }),
      })
    } catch (listenerError) {
      log.error({ err: listenerError, queue, messageId }, 'message processed listener threw')
    }
  }

  function startTask(message: Message): void {
    const task = process(message).finally(() => inFlight.delete(task))
    inFlight.add(task)
  }

  async function loop(): Promise<void> {
    let failures = 0
    const batchSize = Math.min(options.batchSize ?? 10, 10)
    const receiveAt = receiveThreshold(options.concurrency, batchSize)
    while (!stopping.signal.aborted) {
      if (options.concurrency - inFlight.size < receiveAt) {
        await Promise.race(inFlight)
        continue
      }
      try {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(batchSize, options.concurrency - inFlight.size),
            WaitTimeSeconds: options.waitTimeSeconds ?? 20,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: stopping.signal },
        )
        failures = 0
        for (const message of Messages) startTask(message)
      } catch (error) {
        if (stopping.signal.aborted) break
        failures += 1
        const delayMs = receiveBackoff(failures)
        log.error({ err: error, queue, failures, delayMs }, 'receive failed; backing off')
        await abortableDelay(delayMs, stopping.signal)
      }
    }
    // Messages already received are finished, so nothing waits out a visibility timeout.
    await Promise.all(inFlight)
  }

  return {
    queue,
    queueUrl,
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

/** A delivery's span: its subjects' ids, its outcome, and an error status when the handler crashed. */
function describeResult(span: Span, result: MessageResult, subjectAttribute: string, crash: unknown): void {
  const ids = (result.subjects ?? []).flatMap((subject) => (subject.id === undefined ? [] : [subject.id]))
  if (ids.length === 1) span.setAttribute(subjectAttribute, ids[0] as string)
  else if (ids.length > 1) span.setAttribute(`${subjectAttribute}s`, ids)
  const outcomes = [...new Set((result.subjects ?? []).map((subject) => subject.outcome))]
  span.setAttribute('image_service.message.result', result.type)
  if (outcomes.length > 0) span.setAttribute('image_service.message.outcomes', outcomes)
  if (result.type === 'retry') span.setAttribute('error.type', result.reason)
  if (crash !== undefined) {
    span.recordException(crash instanceof Error ? crash : String(crash))
    span.setStatus({ code: SpanStatusCode.ERROR, message: result.type === 'retry' ? result.reason : 'handler crashed' })
  }
}
