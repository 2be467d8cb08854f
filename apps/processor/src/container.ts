import { SQSClient } from '@aws-sdk/client-sqs'
import {
  AwsSha256,
  createDatabase,
  createPostgresImageRepository,
  createS3Client,
  createS3ValidationStorage,
  createValidateImage,
  type Logger,
  type ProcessorConfig,
  type S3CredentialsSource,
} from '@image-service/foundation'
import { createMessageHandler } from './handle-message.ts'
import { createOutcomeMetrics } from './metrics.ts'
import { createWorker, type WorkerOptions } from './worker.ts'

type AwsCredentials = { accessKeyId: string; secretAccessKey: string }

export type ProcessorContainerOptions = {
  /** Unset: the SDK's default chain (env, profile, instance role). */
  s3Credentials?: S3CredentialsSource
  sqsCredentials?: AwsCredentials
  /** Overrides of the worker's retry timings (tests use short ones). */
  timings?: Pick<WorkerOptions, 'retryVisibilitySeconds' | 'receiveBackoffMs'>
}

/**
 * The one place where the processor's adapters are wired. close() disposes every client
 * in a fixed order: the worker has already stopped receiving and drained by then.
 */
export function createProcessorContainer(config: ProcessorConfig, logger: Logger, options: ProcessorContainerOptions = {}) {
  const database = createDatabase({ url: config.database.url, poolMax: config.database.poolMax, log: logger })
  const s3 = createS3Client({ ...config.storage, credentials: options.s3Credentials })
  const sqs = new SQSClient({
    region: config.storage.region,
    // SigV4 with cached HMAC keys: a visible share of the worker's CPU otherwise (see AwsSha256).
    sha256: AwsSha256,
    ...(config.processor.queue.endpoint === undefined ? {} : { endpoint: config.processor.queue.endpoint }),
    ...(options.sqsCredentials === undefined ? {} : { credentials: options.sqsCredentials }),
  })

  const metrics = createOutcomeMetrics()
  const validate = createValidateImage({
    images: createPostgresImageRepository(database.db),
    storage: createS3ValidationStorage({ client: s3, bucket: config.storage.bucket }),
    limits: { ...config.limits, ...config.processor.limits },
    log: logger,
  })
  const worker = createWorker({
    sqs,
    queueUrl: config.processor.queue.url,
    handle: createMessageHandler({ validate, bucket: config.storage.bucket, log: logger, metrics }),
    log: logger,
    waitTimeSeconds: config.processor.queue.waitTimeSeconds,
    batchSize: config.processor.queue.batchSize,
    concurrency: config.processor.queue.concurrency,
    ...options.timings,
  })

  return {
    worker,
    metrics,
    async close() {
      await worker.stop()
      sqs.destroy()
      s3.destroy()
      await database.close()
    },
  }
}

export type ProcessorContainer = ReturnType<typeof createProcessorContainer>
