import {
  type ApiConfig,
  createApiKeyCommands,
  createBatchingCdnInvalidator,
  createCloudFrontCdnInvalidator,
  createCloudFrontClient,
  createDeleteImage,
  createListImages,
  noCdnInvalidator,
  createAuthenticate,
  createAuthenticateQueryToken,
  createEventHub,
  createFollowEvents,
  createListEvents,
  createPostgresEventLog,
  createDatabase,
  createPostgresApiKeyRepository,
  createTokenVerifier,
  type TrustedIssuer,
  createGetImageDownloadSignedUrl,
  createGetImageDownloadSignedUrls,
  createImageCdn,
  createGetUsage,
  createRequestOwnerErasure,
  erasureProgress,
  createListAudit,
  createPostgresAuditLog,
  createPostgresAuditRepository,
  createImageUploadPresignedUrl,
  createImageMultipartUpload,
  createListMultipartParts,
  createCompleteMultipartUpload,
  createAbortMultipartUpload,
  createConfirmUpload,
  createPostgresMultipartUploads,
  createS3MultipartStorage,
  createSqsClient,
  createSqsSender,
  ValidateImageMessage,
  createPostgresImageRepository,
  announceThrough,
  listenForRecordChanges,
  withReadyRecordCache,
  createS3Client,
  createS3UploadStorage,
  getImageStatus,
  type Logger,
  newImageId,
  type S3CredentialsSource,
  createCancelJob,
  createFalWebhookVerifier,
  createGetJob,
  createListJobs,
  createListWorkflows,
  createPostgresJobRepository,
  createReceiveFalWebhook,
  createStartJob,
  JobMessage,
  loadWorkflowCatalog,
  newJobId,
} from '@image-service/foundation'
import { Redis } from 'ioredis'
import { type Accounts, createAccounts } from './accounts/index.ts'

export type ApiContainerOptions = {
  /** S3 credentials; unset uses the SDK's default chain (env, profile, instance role). */
  s3Credentials?: S3CredentialsSource
  /** SQS credentials (upload/confirm's queue and the jobs queue); unset uses the SDK's default chain. */
  sqsCredentials?: { accessKeyId: string; secretAccessKey: string }
  /** CloudFront API credentials for invalidations; unset uses the SDK's default chain. */
  cloudFrontCredentials?: { accessKeyId: string; secretAccessKey: string }
}

/**
 * The one place where adapters are wired to commands and queries. Routes see only the
 * functions returned here, never a client. Every client created here is disposed by close().
 */
export function createApiContainer(config: ApiConfig, logger: Logger, options: ApiContainerOptions = {}) {
  const database = createDatabase({ url: config.database.url, poolMax: config.database.poolMax, log: logger })
  const s3 = createS3Client({ ...config.storage, credentials: options.s3Credentials })

  // Ready records are answered from memory; any process's change to one reaches this replica
  // as an announcement (LISTEN on a connection of its own) and is forgotten.
  const repository = createPostgresImageRepository(database.db)
  const { recordCache: cacheConfig } = config.api
  const recordCache =
    cacheConfig.size > 0
      ? withReadyRecordCache(repository, { maxEntries: cacheConfig.size, maxAgeMs: cacheConfig.maxAgeSeconds * 1000 })
      : undefined
  const recordChanges =
    recordCache === undefined
      ? undefined
      : listenForRecordChanges(
          { url: cacheConfig.listenUrl ?? config.database.url, announce: announceThrough(database.sql), log: logger },
          { changed: recordCache.forget, down: recordCache.suspend, up: recordCache.resume },
        )
  const images = recordCache?.repository ?? repository
  // Rows for actions that change no image (signing, API keys); close() writes what is queued.
  const audit = createPostgresAuditLog(database.db, { log: logger })
  const storage = createS3UploadStorage({ client: s3, bucket: config.storage.bucket })
  const multipartStorage = createS3MultipartStorage({ client: s3, bucket: config.storage.bucket })
  const multipartUploads = createPostgresMultipartUploads(database.sql)
  // upload/confirm queues validations on the processor's queue, beside S3's events.
  const queueUrl = config.api.queue.url
  const sqs =
    queueUrl === undefined
      ? undefined
      : createSqsClient({ region: config.storage.region, endpoint: config.api.queue.endpoint, credentials: options.sqsCredentials })
  const validations =
    sqs === undefined || queueUrl === undefined ? undefined : createSqsSender({ sqs, queueUrl, schema: ValidateImageMessage })
  // CloudFront or S3-presigned by config.api.cdn.mode; a bad CloudFront key fails start-up here.
  const cdn = createImageCdn({ config: config.api.cdn, s3: { client: s3, bucket: config.storage.bucket } })

  const { auth } = config.api
  const accounts: Accounts | undefined =
    auth.accounts.enabled && auth.accounts.secret !== undefined && auth.accounts.baseUrl !== undefined
      ? createAccounts({
          db: database.db,
          secret: auth.accounts.secret,
          baseUrl: auth.accounts.baseUrl,
          audience: auth.audience,
          trustedOrigins: config.api.http.corsOrigins,
          logger,
        })
      : undefined
  const apiKeys = createApiKeyCommands({ keys: createPostgresApiKeyRepository(database.db), audit })
  // A delete invalidates the CDN's copy; concurrent deletes share one CreateInvalidation.
  const invalidation = config.api.cdn.mode === 'cloudfront' ? config.api.cdn.invalidation : undefined
  const cloudFront =
    invalidation === undefined
      ? undefined
      : createCloudFrontClient({
          region: config.storage.region,
          endpoint: invalidation.endpoint,
          credentials: options.cloudFrontCredentials,
        })
  const invalidator =
    cloudFront === undefined || invalidation === undefined
      ? noCdnInvalidator
      : createBatchingCdnInvalidator(createCloudFrontCdnInvalidator({ client: cloudFront, distributionId: invalidation.distributionId }))
  if (config.api.cdn.mode === 'cloudfront' && invalidation === undefined) {
    logger.warn('CLOUDFRONT_DISTRIBUTION_ID is not set: deleted images stay in edge caches until their cached copies expire')
  }
  const rateLimitRedis = createRateLimitRedis(config.api.rateLimit.redisUrl, logger)
  // AI processing: workflows from configuration (a malformed list fails start-up here), jobs,
  // and the jobs queue when JOBS_QUEUE_URL is set.
  const { processing } = config.api
  const workflows = loadWorkflowCatalog({ json: processing.workflowsJson, file: processing.workflowsFile })
  const jobs = createPostgresJobRepository(database.db)
  const jobsSqs =
    processing.jobsQueueUrl === undefined
      ? undefined
      : createSqsClient({ region: config.storage.region, endpoint: config.api.queue.endpoint, credentials: options.sqsCredentials })
  const jobsQueue =
    jobsSqs === undefined || processing.jobsQueueUrl === undefined
      ? undefined
      : createSqsSender({ sqs: jobsSqs, queueUrl: processing.jobsQueueUrl, schema: JobMessage })
  const verifyToken = createTokenVerifier({ issuers: trustedIssuers(config, accounts) })
  const authenticate = createAuthenticate({ verifyToken, apiKeys })
  const events = createPostgresEventLog(database.db)
  const eventHub = createEventHub({ events, pollIntervalMs: config.api.events.pollIntervalMs, log: logger })

  return {
    authenticate,
    authenticateQueryToken: createAuthenticateQueryToken({
      verifyToken,
      maxLifetimeSeconds: config.api.events.accessTokenMaxLifetimeSeconds,
    }),
    accounts,
    createApiKey: apiKeys.createApiKey,
    listApiKeys: apiKeys.listApiKeys,
    revokeApiKey: apiKeys.revokeApiKey,
    createImageUploadPresignedUrl: createImageUploadPresignedUrl({
      images,
      storage,
      newId: newImageId,
      config: config.api.upload,
      quota: config.api.quota,
      maxUploadBytes: config.limits.maxUploadBytes,
    }),
    createImageMultipartUpload: createImageMultipartUpload({
      images,
      storage: multipartStorage,
      uploads: multipartUploads,
      newId: newImageId,
      config: config.api.upload,
      quota: config.api.quota,
      maxUploadBytes: config.limits.maxUploadBytes,
      log: logger,
    }),
    listMultipartParts: createListMultipartParts({
      images,
      storage: multipartStorage,
      uploads: multipartUploads,
      multipartUrlTtlSeconds: config.api.upload.multipartUrlTtlSeconds,
    }),
    completeMultipartUpload: createCompleteMultipartUpload({ images, storage: multipartStorage, uploads: multipartUploads, log: logger }),
    abortMultipartUpload: createAbortMultipartUpload({ images, storage: multipartStorage, uploads: multipartUploads, log: logger }),
    confirmUpload: createConfirmUpload({ images, storage: multipartStorage, queue: validations }),
    getImageStatus: getImageStatus({ images }),
    listImages: createListImages({ images }),
    getUsage: createGetUsage({ images, quota: config.api.quota, erasureOf: (ownerId) => erasureProgress(database.sql, ownerId) }),
    requestOwnerErasure: createRequestOwnerErasure({ sql: database.sql }),
    listAudit: createListAudit({ audit: createPostgresAuditRepository(database.db) }),
    deleteImage: createDeleteImage({ images, storage, cdn: invalidator, log: logger }),
    getImageDownloadSignedUrl: createGetImageDownloadSignedUrl({ images, cdn, audit }),
    getImageDownloadSignedUrls: createGetImageDownloadSignedUrls({ images, cdn, audit }),
    listEvents: createListEvents({ events }),
    followEvents: createFollowEvents({ events, hub: eventHub }),
    /** Ends every open event stream (shutdown: before the server waits for its connections). */
    closeEventStreams: () => eventHub.close(),

    listWorkflows: createListWorkflows({ workflows }),
    startJob: createStartJob({
      jobs,
      workflows,
      queue: jobsQueue,
      newId: newJobId,
      maxConcurrentPerOwner: processing.maxConcurrentPerOwner,
      log: logger,
    }),
    getJob: createGetJob({ jobs }),
    cancelJob: createCancelJob({ jobs, queue: jobsQueue, log: logger }),
    listJobs: createListJobs({ jobs }),
    receiveFalWebhook: createReceiveFalWebhook({
      verify: createFalWebhookVerifier({ jwksUrl: processing.falWebhookJwksUrl, log: logger }),
      jobs,
      queue: jobsQueue,
      log: logger,
    }),

    /** The cache of ready records, for /metrics; undefined when IMAGE_RECORD_CACHE_SIZE is 0. */
    recordCacheStats: recordCache === undefined ? undefined : () => recordCache.stats(),
    /** Resolves once this replica hears of record changes (at once when it keeps no records): specs wait for it. */
    recordChangesHeard: () => recordChanges?.heard ?? Promise.resolve(),
    /** Readiness: the database answers (throws DATABASE_UNAVAILABLE otherwise). */
    ping: () => database.ping(),
    /** The rate-limit counters shared by every replica (REDIS_URL); unset keeps them per process. */
    rateLimitRedis,
    async close() {
      eventHub.close()
      rateLimitRedis?.disconnect()
      sqs?.destroy()
      jobsSqs?.destroy()
      cloudFront?.destroy()
      s3.destroy()
      // After the server stopped taking requests: no audit row queued by one is lost.
      await audit.close().catch((error: unknown) => logger.error({ err: error }, 'audit rows could not be written at shutdown'))
      await recordChanges?.close()
      await database.close()
    },
  }
}

export type ApiContainer = ReturnType<typeof createApiContainer>

/**
 * A rate-limit check must not hold a request for long while Redis is away: a command waits
 * for the connection at most 500 ms, then fails and the request goes through (skipOnError).
 * Commands do wait that long (the offline queue) so that the first requests after start-up
 * are counted too. ioredis reconnects on its own; each failed attempt is one warning (the URL,
 * which may hold a password, is not logged).
 */
function createRateLimitRedis(url: string | undefined, logger: Logger): Redis | undefined {
  if (url === undefined) return undefined
  const redis = new Redis(url, { commandTimeout: 500, connectTimeout: 2000 })
  redis.on('error', (error: Error) =>
    logger.warn({ code: (error as NodeJS.ErrnoException).code, reason: error.message }, 'rate-limit redis unavailable'),
  )
  return redis
}

/**
 * The external identity provider (JWKS or shared secret) and the built-in accounts. The
 * accounts' keys are fetched from this very process over loopback rather than through the
 * public URL and its load balancer.
 */
function trustedIssuers(config: ApiConfig, accounts: Accounts | undefined): TrustedIssuer[] {
  const { issuer, audience, jwksUrl, jwtSecret } = config.api.auth
  const issuers: TrustedIssuer[] = []
  if (issuer !== undefined && audience !== undefined) {
    if (jwtSecret !== undefined) issuers.push({ issuer, audience, secret: jwtSecret })
    else if (jwksUrl !== undefined) issuers.push({ issuer, audience, jwksUrl })
  }
  if (accounts !== undefined) {
    const { host, port } = config.api.http
    const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
    const { issuer: accountsIssuer, audience: accountsAudience } = accounts.trustedIssuer
    issuers.push({
      issuer: accountsIssuer,
      audience: accountsAudience,
      jwksUrl: `http://${local}:${port}${new URL(accounts.jwksUrl).pathname}`,
    })
  }
  return issuers
}
