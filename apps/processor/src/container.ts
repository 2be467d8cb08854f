import {
  createBatchingCdnInvalidator,
  createCloudFrontCdnInvalidator,
  createCloudFrontClient,
  createS3LifecycleStorage,
  createSqsSender,
  createSweeper,
  noCdnInvalidator,
  type SweepResult,
  ValidateImageMessage,
  createDatabase,
  createPostgresWebhookOutbox,
  createWebhookRelay,
  createMetricsRegistry,
  createPostgresImageRepository,
  createQueueMetrics,
  createQueueWorker,
  createS3Client,
  createS3ObjectRequests,
  createS3ValidationStorage,
  createSqsClient,
  createSqsMessageDeletes,
  createValidateImage,
  createImageVariants,
  createS3VariantStorage,
  type Logger,
  type MessageProcessedListener,
  pingQueue,
  type ProcessorConfig,
  type RetryTimings,
  type S3CredentialsSource,
  createCircuitBreaker,
  createFalProvider,
  createJobRunner,
  createPostgresJobRepository,
  createS3ResultStorage,
  JobMessage,
  type ProcessingProvider,
} from '@image-service/foundation'
import { createJobsMessageHandler, logJobsMessage } from './handle-job-message.ts'
import { createUploadsMessageHandler } from './handle-message.ts'
import { createProcessorHttpServer } from './http-server.ts'
import { logUploadsMessage } from './log-processed.ts'
import { createSweepMetrics, createValidationMetrics, createVariantMetrics } from './metrics.ts'

type AwsCredentials = { accessKeyId: string; secretAccessKey: string }

export type ProcessorContainerOptions = {
  /** Unset: the SDK's default chain (env, profile, instance role). */
  s3Credentials?: S3CredentialsSource
  sqsCredentials?: AwsCredentials
  /** Overrides of the worker's retry timings (tests use short ones). */
  timings?: RetryTimings
  /** Hears every processed message after the log lines and metrics (tests pass a spy). */
  onMessageProcessed?: MessageProcessedListener
  cloudFrontCredentials?: AwsCredentials
  /** Hears every sweep after its log line and metrics; `now` replaces the sweeper's clock (tests). */
  onSwept?: (result: SweepResult) => void
  now?: () => Date
  /** Sees every request the fal client dispatches, its own retries included (tests count them). */
  onFalRequest?: (request: { method: string; url: string }) => void
}

/**
 * The one place where the processor's adapters are wired. Every processed message goes
 * through one hook: log lines, metrics, and the caller's listener. close() disposes in a
 * fixed order: stop polling (in-flight messages finish), close the HTTP server, then clients.
 */
export function createProcessorContainer(config: ProcessorConfig, logger: Logger, options: ProcessorContainerOptions = {}) {
  const database = createDatabase({ url: config.database.url, poolMax: config.database.poolMax, log: logger })
  const s3 = createS3Client({ ...config.storage, credentials: options.s3Credentials })
  const sqs = createSqsClient({
    region: config.storage.region,
    endpoint: config.processor.queue.endpoint,
    credentials: options.sqsCredentials,
  })

  const registry = createMetricsRegistry()
  const validationMetrics = createValidationMetrics(registry)
  const images = createPostgresImageRepository(database.db)
  // One signer, endpoint and keep-alive agent for every upload's GET and variant PUTs.
  const objects = createS3ObjectRequests({ client: s3, bucket: config.storage.bucket })
  const storage = createS3ValidationStorage({ client: s3, bucket: config.storage.bucket, objects })
  const limits = { ...config.limits, ...config.processor.limits }
  const validate = createValidateImage({
    images,
    storage,
    variants: createImageVariants({
      storage: createS3VariantStorage({ client: s3, bucket: config.storage.bucket, objects }),
      config: config.processor.variants,
      limitInputPixels: limits.maxTotalPixels,
      onCreated: createVariantMetrics(registry),
    }),
    limits,
    log: logger,
  })
  const queueMetrics = createQueueMetrics(registry)
  const { distributionId, apiEndpoint } = config.processor.cdn
  const cloudFront =
    distributionId === undefined
      ? undefined
      : createCloudFrontClient({ region: config.storage.region, endpoint: apiEndpoint, credentials: options.cloudFrontCredentials })
  const sweepMetrics = createSweepMetrics(registry)
  // One fal client for the runner and the sweeper (which cancels an erased owner's requests).
  const { falKey, falBaseUrl } = config.processor.processing
  const provider =
    falKey === undefined ? undefined : createFalProvider({ key: falKey, baseUrl: falBaseUrl, onRequest: options.onFalRequest })
  const sweeper = createSweeper({
    sql: database.sql,
    images,
    storage: createS3LifecycleStorage({ client: s3, bucket: config.storage.bucket }),
    // Lost events are re-queued on the uploads queue, as upload/confirm does.
    queue: createSqsSender({ sqs, queueUrl: config.processor.queue.url, schema: ValidateImageMessage }),
    cdn:
      cloudFront === undefined || distributionId === undefined
        ? noCdnInvalidator
        : createBatchingCdnInvalidator(createCloudFrontCdnInvalidator({ client: cloudFront, distributionId })),
    provider,
    config: { ...config.processor.lifecycle, uploadUrlTtlSeconds: config.processor.upload.urlTtlSeconds },
    log: logger.child({ component: 'sweeper' }),
    now: options.now,
    onSwept: (result) => {
      sweepMetrics(result)
      options.onSwept?.(result)
    },
  })
  const logUploads = logUploadsMessage(logger)

  const worker = createQueueWorker({
    sqs,
    // One signer and keep-alive agent for every queue's acknowledgements.
    deleteMessage: createSqsMessageDeletes({ client: sqs }),
    log: logger,
    waitTimeSeconds: config.processor.queue.waitTimeSeconds,
    batchSize: config.processor.queue.batchSize,
    ...options.timings,
    queues: [
      {
        queueUrl: config.processor.queue.url,
        concurrency: config.processor.queue.concurrency,
        handler: createUploadsMessageHandler({ validate, storage, bucket: config.storage.bucket }),
        onProcessed: (event) => {
          logUploads(event)
          validationMetrics.listener(event)
        },
      },
      ...jobsConsumer(config, { database, s3, sqs, images, logger, provider }),
    ],
    onProcessed: (event) => {
      queueMetrics(event)
      options.onMessageProcessed?.(event)
    },
  })

  const http = createProcessorHttpServer({
    registry,
    metricsToken: config.processor.http.metricsToken,
    log: logger,
    checks: [
      { name: 'database', check: () => database.ping() },
      ...worker.consumers.map((c) => ({ name: `queue:${c.queue}`, check: () => pingQueue(sqs, c.queueUrl) })),
    ],
  })

  // Webhooks (WEBHOOK_URL): the outbox relay, beside the queue consumers; off when unset.
  const { webhooks } = config.processor
  const webhookRelay =
    webhooks.url === undefined || webhooks.secret === undefined
      ? undefined
      : createWebhookRelay({
          outbox: createPostgresWebhookOutbox(database.db),
          config: { ...webhooks, url: webhooks.url, secret: webhooks.secret },
          log: logger.child({ component: 'webhooks' }),
        })

  return {
    worker,
    webhookRelay,
    sweeper,
    registry,
    validationMetrics,
    /** Serves /metrics and /health/* on HOST:PROCESSOR_HTTP_PORT (0 picks a free port). */
    listen: () => http.listen(config.processor.http.host, config.processor.http.port),
    async close() {
      await webhookRelay?.stop()
      await Promise.all([worker.stop(), sweeper.stop()])
      await http.close()
      cloudFront?.destroy()
      sqs.destroy()
      s3.destroy()
      await database.close()
    },
  }
}

export type ProcessorContainer = ReturnType<typeof createProcessorContainer>

/**
 * The second consumer (DESIGN "AI processing"): the runner, on JOBS_QUEUE_URL, when set.
 * FAL_KEY stays in this process: it goes to the fal client and nowhere else.
 */
function jobsConsumer(
  config: ProcessorConfig,
  deps: {
    database: ReturnType<typeof createDatabase>
    s3: ReturnType<typeof createS3Client>
    sqs: ReturnType<typeof createSqsClient>
    images: ReturnType<typeof createPostgresImageRepository>
    logger: Logger
    provider: ProcessingProvider | undefined
  },
) {
  const settings = config.processor.processing
  if (settings.jobsQueueUrl === undefined || deps.provider === undefined) return []
  const log = deps.logger.child({ queue: 'jobs' })
  const breaker = createCircuitBreaker({
    failureThreshold: settings.breakerThreshold,
    openSeconds: settings.breakerOpenSeconds,
    onChange: (state) => log.warn({ breaker: state }, 'fal circuit breaker changed'),
  })
  const run = createJobRunner({
    jobs: createPostgresJobRepository(deps.database.db),
    images: deps.images,
    storage: createS3ResultStorage({ client: deps.s3, bucket: config.storage.bucket }),
    provider: deps.provider,
    breaker,
    queue: createSqsSender({ sqs: deps.sqs, queueUrl: settings.jobsQueueUrl, schema: JobMessage }),
    settings: {
      sourceUrlTtlSeconds: settings.sourceUrlTtlSeconds,
      webhookUrl:
        settings.publicBaseUrl === undefined
          ? undefined
          : `${settings.publicBaseUrl.replace(/\/+$/, '')}/api/image/v1/processing/webhooks/fal`,
      pollIntervalSeconds: settings.pollIntervalSeconds,
      webhookTimeoutSeconds: settings.webhookTimeoutSeconds,
      maxAttempts: settings.maxAttempts,
      retryBaseSeconds: settings.retryBaseSeconds,
      retryMaxSeconds: settings.retryMaxSeconds,
      leaseSeconds: settings.leaseSeconds,
      maxUploadBytes: config.limits.maxUploadBytes,
      downloadTimeoutMs: settings.downloadTimeoutSeconds * 1000,
      allowHttpOutputs: settings.falBaseUrl !== undefined,
      quota: settings.quota,
    },
    log,
  })
  return [
    {
      queueUrl: settings.jobsQueueUrl,
      concurrency: settings.concurrency,
      handler: createJobsMessageHandler({ run }),
      onProcessed: logJobsMessage(log),
    },
  ]
}
