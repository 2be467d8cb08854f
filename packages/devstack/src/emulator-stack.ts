import { join } from 'node:path'
import { startCdnEmulator } from './cdn-emulator.ts'
import { generateDevKeyPair, loadOrCreateDevKeyPair } from './dev-key-pair.ts'
import { startS3EventBridge } from './s3-event-bridge.ts'
import type { BridgeLogger } from './s3-event-bridge.ts'
import { type S3Emulator, startS3Emulator } from './s3-emulator.ts'
import { startSqsEmulator } from './sqs-emulator.ts'
import type { CdnEndpoint, S3Endpoint, SqsEndpoint } from './types.ts'

export type EmulatorStackOptions = {
  /** Keeps S3 objects and the CDN key pair here; else temp dirs / a fresh key, gone on stop. */
  dataDir?: string
  ports?: { s3?: number; sqs?: number; cdn?: number }
  bucket?: string
  queueName?: string
  /** Queue visibility timeout; tests that kill a consumer shorten it so redelivery is quick. */
  visibilityTimeoutSeconds?: number
  /** Pages allowed to upload to the bucket from a browser (its CORS rule); none by default. */
  corsOrigins?: readonly string[]
  logger?: BridgeLogger
}

export type EmulatorStack = { s3: S3Endpoint & Pick<S3Emulator, 'holdRequests'>; sqs: SqsEndpoint; cdn: CdnEndpoint; stop(): Promise<void> }

export const MAX_RECEIVE_COUNT = 5

/** S3 + SQS (with DLQ) + ObjectCreated bridge + CDN: everything of the dev stack but PostgreSQL. */
export async function startEmulatorStack(options: EmulatorStackOptions = {}): Promise<EmulatorStack> {
  const bucket = options.bucket ?? 'images'
  const queueName = options.queueName ?? 'image-events'
  const stops = createStopList()
  try {
    const keyPair = options.dataDir ? await loadOrCreateDevKeyPair(options.dataDir) : generateDevKeyPair()
    const s3 = await startS3Emulator({
      port: options.ports?.s3 ?? 0,
      buckets: [bucket],
      ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
      ...(options.dataDir ? { directory: join(options.dataDir, 's3') } : {}),
    })
    stops.push(() => s3.stop())

    const sqs = await startSqsEmulator({ port: options.ports?.sqs ?? 0 })
    stops.push(() => sqs.stop())
    const { queueUrl, dlqUrl } = await sqs.createQueue(queueName, {
      dlq: { maxReceiveCount: MAX_RECEIVE_COUNT },
      ...(options.visibilityTimeoutSeconds !== undefined ? { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds } : {}),
    })
    if (!dlqUrl) throw new Error('SQS emulator created no dead-letter queue')
    // AI jobs have their own queue and DLQ (JOBS_QUEUE_URL).
    const jobs = await sqs.createQueue(`${queueName}-jobs`, {
      dlq: { maxReceiveCount: MAX_RECEIVE_COUNT },
      ...(options.visibilityTimeoutSeconds !== undefined ? { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds } : {}),
    })
    if (!jobs.dlqUrl) throw new Error('SQS emulator created no dead-letter queue for jobs')

    const bridge = startS3EventBridge({ s3, sqs, bucket, queueUrl, ...(options.logger ? { logger: options.logger } : {}) })
    stops.push(() => bridge.stop())

    const cdn = await startCdnEmulator({ port: options.ports?.cdn ?? 0, s3, bucket, ...keyPair })
    stops.push(() => cdn.stop())

    const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
    return {
      s3: { endpoint: s3.endpoint, region: s3.region, bucket, ...credentials, holdRequests: s3.holdRequests },
      // One key pair for both emulators, so the apps' single set of AWS_* variables works.
      sqs: {
        endpoint: sqs.endpoint,
        region: sqs.region,
        queueUrl,
        dlqUrl,
        jobsQueueUrl: jobs.queueUrl,
        jobsDlqUrl: jobs.dlqUrl,
        ...credentials,
      },
      cdn: { baseUrl: cdn.baseUrl, ...keyPair },
      stop: stops.stopAll,
    }
  } catch (error) {
    await stops.stopAll()
    throw error
  }
}

/**
 * Stop functions run in reverse order of start, each even if an earlier one failed; calling
 * stopAll again returns the same promise.
 */
export function createStopList() {
  const stops: Array<() => Promise<void>> = []
  let stopping: Promise<void> | undefined
  return {
    push(stop: () => Promise<void>) {
      stops.push(stop)
    },
    stopAll(): Promise<void> {
      stopping ??= (async () => {
        const errors: unknown[] = []
        for (const stop of stops.reverse()) await stop().catch((error: unknown) => errors.push(error))
        if (errors.length > 0) throw new AggregateError(errors, 'some dev stack parts failed to stop')
      })()
      return stopping
    },
  }
}
