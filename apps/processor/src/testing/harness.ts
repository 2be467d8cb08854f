import { randomBytes } from 'node:crypto'
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs'
import {
  createTestDatabase,
  type S3Emulator,
  type S3EventBridge,
  type SqsEmulator,
  startS3Emulator,
  startS3EventBridge,
  startSqsEmulator,
  type TestDatabase,
} from '@image-service/devstack'
import {
  createDatabase,
  createLogger,
  type Logger,
  createPostgresImageRepository,
  createS3Client,
  createS3UploadStorage,
  createS3ValidationStorage,
  createImageVariants,
  createS3VariantStorage,
  DEFAULT_VARIANT_CONFIG,
  type ImageVariants,
  type Database,
  type ImageContentType,
  type ImageId,
  type ImageRepository,
  type ProcessorConfig,
  type UploadStorage,
  type ValidationStorage,
  loadConfig,
  newImageId,
  objectKeyFor,
} from '@image-service/foundation'

import { TEST_IMAGE_LIMITS } from '@image-service/devstack/corpus'

export { readCorpusFile as corpusFile } from '@image-service/devstack/corpus'

export const silentLog: Logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })

/** PostgreSQL test database + S3 and SQS emulators, shared by the tests of one file. */
export type Stack = {
  database: TestDatabase
  db: Database
  images: ImageRepository
  s3: S3Emulator
  s3Client: ReturnType<typeof createS3Client>
  storage: ValidationStorage
  /** The processor's variants on the same bucket (default sizes). */
  variants: ImageVariants
  /** The api's side of the bucket: presigned PUTs, as a client would use them. */
  uploads: UploadStorage
  sqs: SqsEmulator
  sqsClient: SQSClient
  bucket: string
  stop(): Promise<void>
}

export async function startStack(databaseServerUrl: string): Promise<Stack> {
  const bucket = `uploads-${randomBytes(4).toString('hex')}`
  const database = await createTestDatabase(databaseServerUrl)
  const db = createDatabase({ url: database.url, poolMax: 4 })
  const s3 = await startS3Emulator({ buckets: [bucket] })
  const sqs = await startSqsEmulator()
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
  const s3Client = createS3Client({ region: s3.region, bucket, endpoint: s3.endpoint, forcePathStyle: true, credentials })
  const sqsClient = new SQSClient({
    endpoint: sqs.endpoint,
    region: sqs.region,
    credentials: { accessKeyId: sqs.accessKeyId, secretAccessKey: sqs.secretAccessKey },
  })
  return {
    database,
    db,
    images: createPostgresImageRepository(db.db),
    s3,
    s3Client,
    storage: createS3ValidationStorage({ client: s3Client, bucket }),
    variants: createImageVariants({
      storage: createS3VariantStorage({ client: s3Client, bucket }),
      config: DEFAULT_VARIANT_CONFIG,
      limitInputPixels: TEST_IMAGE_LIMITS.maxTotalPixels,
    }),
    uploads: createS3UploadStorage({ client: s3Client, bucket }),
    sqs,
    sqsClient,
    bucket,
    async stop() {
      s3Client.destroy()
      sqsClient.destroy()
      await db.close()
      await Promise.all([s3.stop(), sqs.stop()])
      await database.drop()
    },
  }
}

/** A queue with a DLQ and a bridge that sends every object stored in the bucket to it. */
export async function createQueueWithBridge(stack: Stack, options: { maxReceiveCount: number; visibilityTimeoutSeconds: number }) {
  const name = `q-${randomBytes(4).toString('hex')}`
  const queue = await stack.sqs.createQueue(name, {
    dlq: { maxReceiveCount: options.maxReceiveCount },
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
  })
  const bridge: S3EventBridge = startS3EventBridge({
    s3: stack.s3,
    sqs: {
      endpoint: stack.sqs.endpoint,
      region: stack.sqs.region,
      accessKeyId: stack.sqs.accessKeyId,
      secretAccessKey: stack.sqs.secretAccessKey,
    },
    bucket: stack.bucket,
    queueUrl: queue.queueUrl,
    logger: { warn: () => {}, error: () => {} },
  })
  return { queueUrl: queue.queueUrl, dlqUrl: queue.dlqUrl ?? '', bridge }
}

/** The processor's configuration pointed at the stack; `overrides` replace environment variables. */
export function processorConfig(stack: Stack, queueUrl: string, overrides: Record<string, string> = {}): ProcessorConfig {
  return loadConfig(
    {
      DATABASE_URL: stack.database.url,
      DATABASE_POOL_MAX: '4',
      S3_BUCKET: stack.bucket,
      S3_ENDPOINT: stack.s3.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      SQS_QUEUE_URL: queueUrl,
      SQS_ENDPOINT: stack.sqs.endpoint,
      SQS_WAIT_TIME_SECONDS: '1',
      PROCESSOR_CONCURRENCY: '4',
      LOG_LEVEL: 'silent',
      ...overrides,
    },
    'processor',
  )
}

export const credentialsOf = (stack: Stack) => ({
  s3Credentials: { accessKeyId: stack.s3.accessKeyId, secretAccessKey: stack.s3.secretAccessKey },
  sqsCredentials: { accessKeyId: stack.sqs.accessKeyId, secretAccessKey: stack.sqs.secretAccessKey },
})

/** What the API does (a pending record, a presigned URL) followed by what the client does (the PUT). */
export async function upload(stack: Stack, contentType: ImageContentType, bytes: Uint8Array, ownerId = 'owner-a'): Promise<ImageId> {
  const id = newImageId()
  await stack.images.save({ id, ownerId, contentType, fileName: 'test-upload', objectKey: objectKeyFor(id) })
  const presigned = await stack.uploads.generatePresignedUploadUrl({ objectKey: objectKeyFor(id), contentType, expiresInSeconds: 60 })
  const response = await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: bytes })
  if (!response.ok) throw new Error(`upload PUT answered ${response.status}: ${await response.text()}`)
  return id
}

/** Visible plus in-flight messages; 0 means every message was deleted (or moved to the DLQ). */
export async function messagesIn(client: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  )
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
}
