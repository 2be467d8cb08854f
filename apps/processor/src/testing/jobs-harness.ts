import { randomBytes } from 'node:crypto'
import { type FalEmulator, startFalEmulator } from '@image-service/devstack'
import {
  createCancelJob,
  createMessageSpy,
  createPostgresJobRepository,
  createSqsSender,
  createStartJob,
  type ImageId,
  type Job,
  type JobId,
  JobMessage,
  type JobRepository,
  loadWorkflowCatalog,
  type MessageSpy,
  newJobId,
  type ProcessedMessage,
  userContext,
} from '@image-service/foundation'
import { createProcessorContainer, type ProcessorContainer } from '../container.ts'
import { corpusFile, createQueueWithBridge, credentialsOf, processorConfig, silentLog, type Stack, upload } from './harness.ts'

export const OWNER = 'owner-a'

/**
 * The runner's world: the uploads queue with its S3 bridge (results are validated like any
 * upload), the jobs queue with its DLQ, and the fal emulator; jobs are started and cancelled
 * with the api's own commands.
 */
export type JobsWorld = {
  fal: FalEmulator
  jobs: JobRepository
  uploadsQueueUrl: string
  jobsQueueUrl: string
  jobsDlqUrl: string
  /** The processor's environment for this world, plus `env`. */
  env(env?: Record<string, string>): Record<string, string>
  /** A ready PNG of `ownerId` (OWNER unless given; stored, and marked ready as the processor would). */
  readySource(ownerId?: string): Promise<ImageId>
  start(imageId: ImageId, workflowId?: string, parameters?: Record<string, unknown>, ownerId?: string): Promise<Job>
  cancel(jobId: JobId): Promise<Job>
  stop(): Promise<void>
}

export async function startJobsWorld(stack: Stack): Promise<JobsWorld> {
  const fal = await startFalEmulator()
  const uploads = await createQueueWithBridge(stack, { maxReceiveCount: 5, visibilityTimeoutSeconds: 5 })
  const jobsQueue = await stack.sqs.createQueue(`jobs-${randomBytes(4).toString('hex')}`, {
    dlq: { maxReceiveCount: 5 },
    visibilityTimeoutSeconds: 2,
  })
  const jobs = createPostgresJobRepository(stack.db.db)
  const sender = createSqsSender({ sqs: stack.sqsClient, queueUrl: jobsQueue.queueUrl, schema: JobMessage })
  const workflows = loadWorkflowCatalog({})
  const startJob = createStartJob({ jobs, workflows, queue: sender, newId: newJobId, maxConcurrentPerOwner: 100 })
  const cancelJob = createCancelJob({ jobs, queue: sender })
  const png = corpusFile('valid-png-rgb-1024x768.png')
  return {
    fal,
    jobs,
    uploadsQueueUrl: uploads.queueUrl,
    jobsQueueUrl: jobsQueue.queueUrl,
    jobsDlqUrl: jobsQueue.dlqUrl ?? '',
    env: (env = {}) => ({
      JOBS_QUEUE_URL: jobsQueue.queueUrl,
      FAL_KEY: 'fal-test-key-id:fal-test-key-secret',
      FAL_BASE_URL: fal.baseUrl,
      JOB_POLL_INTERVAL_SECONDS: '1',
      JOB_RETRY_BASE_SECONDS: '0',
      JOB_LEASE_SECONDS: '30',
      ...env,
    }),
    async readySource(ownerId = OWNER) {
      const bytes = await png
      const id = await upload(stack, 'image/png', bytes, ownerId)
      const head = await stack.storage.getObjectMetadata(`uploads/${id}`)
      await stack.images.transitionFromPending(id, { status: 'ready', sizeBytes: bytes.byteLength, etag: head?.etag ?? '"source"' })
      return id
    },
    start: (imageId, workflowId = 'hairstyle', parameters = {}, ownerId = OWNER) =>
      startJob(userContext(ownerId), { imageId, workflowId, parameters }),
    cancel: (jobId) => cancelJob(userContext(OWNER), jobId),
    async stop() {
      await uploads.bridge.stop()
      await fal.stop()
    },
  }
}

/** A processor (its own container, as in production) on both queues, telling `spy` every message. */
export function startJobsProcessor(
  stack: Stack,
  world: JobsWorld,
  options: { env?: Record<string, string>; spy?: MessageSpy; onFalRequest?: (r: { method: string; url: string }) => void } = {},
): { container: ProcessorContainer; spy: MessageSpy; stop(): Promise<void> } {
  const spy = options.spy ?? createMessageSpy()
  const container = createProcessorContainer(processorConfig(stack, world.uploadsQueueUrl, world.env(options.env)), silentLog, {
    ...credentialsOf(stack),
    timings: { retryVisibilitySeconds: () => 0, receiveBackoffMs: () => 50 },
    onMessageProcessed: spy.listener,
    ...(options.onFalRequest === undefined ? {} : { onFalRequest: options.onFalRequest }),
  })
  const running = container.worker.run()
  return {
    container,
    spy,
    async stop() {
      await container.close()
      await running
    },
  }
}

/** The look at `jobId` that ended with `outcome` (succeeded, failed, cancelled, running, deferred). */
export const jobReached = (spy: MessageSpy, jobId: string, outcome: string, timeoutMs = 30_000): Promise<ProcessedMessage> =>
  spy.waitForMessage((m) => m.subjects.some((s) => s.id === jobId && s.outcome === outcome), undefined, { timeoutMs })
