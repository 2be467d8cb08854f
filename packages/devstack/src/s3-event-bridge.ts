import { setTimeout as delay } from 'node:timers/promises'
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import type { ObjectCreatedEvent, S3Emulator } from './s3-emulator.ts'
import { toS3EventNotification } from './s3-event-notification.ts'

export type SqsClientConfig = { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }

/** pino-compatible: object first. */
export type BridgeLogger = {
  warn(details: object, message: string): void
  error(details: object, message: string): void
}

export type S3EventBridgeOptions = {
  s3: Pick<S3Emulator, 'onObjectCreated' | 'region'>
  sqs: SqsClientConfig
  bucket: string
  queueUrl: string
  /**
   * Only keys under this prefix are sent (default `uploads/`), as the bucket notification in
   * docs/operations.md filters them: the processor's own writes (`variants/…`) raise no event.
   * An empty string sends every key.
   */
  keyPrefix?: string
  /** Attempts per message (default 5), waiting baseDelayMs, 2x, 4x... between them (default 100). */
  retry?: { attempts?: number; baseDelayMs?: number }
  logger?: BridgeLogger
}

export type S3EventBridge = {
  /** Stops listening, then waits for messages still being delivered. */
  stop(): Promise<void>
}

const stderrLogger: BridgeLogger = {
  warn: (details, message) => console.warn(message, details),
  error: (details, message) => console.error(message, details),
}

/**
 * What S3 event notifications to SQS do: each object stored in `bucket` becomes one message
 * whose body is the S3 event JSON. A failed send is retried with backoff (the SDK's own retries
 * are off so the policy lives here, in one place); only after the last attempt is it logged
 * and given up. Delivery is at-least-once, like S3's.
 */
export function startS3EventBridge(options: S3EventBridgeOptions): S3EventBridge {
  const attempts = Math.max(1, options.retry?.attempts ?? 5)
  const baseDelayMs = options.retry?.baseDelayMs ?? 100
  const logger = options.logger ?? stderrLogger
  const keyPrefix = options.keyPrefix ?? 'uploads/'
  const client = new SQSClient({
    endpoint: options.sqs.endpoint,
    region: options.sqs.region,
    credentials: { accessKeyId: options.sqs.accessKeyId, secretAccessKey: options.sqs.secretAccessKey },
    maxAttempts: 1,
  })
  const inFlight = new Set<Promise<void>>()

  const deliver = async (event: ObjectCreatedEvent) => {
    const body = JSON.stringify(toS3EventNotification(event, options.s3.region))
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        await client.send(new SendMessageCommand({ QueueUrl: options.queueUrl, MessageBody: body }))
        return
      } catch (error) {
        const details = { bucket: event.bucket, key: event.key, attempt, err: error }
        if (attempt === attempts) {
          logger.error(details, 'S3 event not delivered to SQS; giving up')
          return
        }
        logger.warn(details, 'S3 event delivery to SQS failed; retrying')
        await delay(baseDelayMs * 2 ** (attempt - 1))
      }
    }
  }

  const unsubscribe = options.s3.onObjectCreated((event) => {
    if (event.bucket !== options.bucket || !event.key.startsWith(keyPrefix)) return
    const sending = deliver(event).finally(() => inFlight.delete(sending))
    inFlight.add(sending)
  })

  return {
    async stop() {
      unsubscribe()
      await Promise.all(inFlight)
      client.destroy()
    },
  }
}
