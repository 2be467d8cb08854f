import { AppError } from '../../common/errors.ts'
import { type ImageId, newImageId } from '../../shared/image/image.ts'

/** A job id is a ULID, like an image id, with its own brand. */
export type JobId = string & { readonly __brand: 'JobId' }

export const JOB_ID_PATTERN = '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'
const jobIdRegExp = new RegExp(JOB_ID_PATTERN)

export function isJobId(value: string): value is JobId {
  return jobIdRegExp.test(value)
}

/** Same generator as image ids (ULIDs from a CSPRNG pool). */
export function newJobId(): JobId {
  return newImageId() as string as JobId
}

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled']

/** Why a job failed; `results` names each result that did not become ready, and why. */
export type JobError = {
  code: string
  message: string
  results?: { image_id: string; reason: string }[]
}

export type Job = {
  id: JobId
  ownerId: string
  imageId: ImageId
  workflowId: string
  /** The fal endpoint id, from the workflow at start time; never from a client. */
  model: string
  /** What the caller sent. */
  parameters: Record<string, unknown>
  /** What is submitted: the workflow's defaults, then the caller's parameters. */
  input: Record<string, unknown>
  status: JobStatus
  attempts: number
  providerRequestId: string | null
  resultImageIds: ImageId[]
  resultsStoredAt: Date | null
  error: JobError | null
  providerCancelledAt: Date | null
  createdAt: Date
  startedAt: Date | null
  completedAt: Date | null
  updatedAt: Date
}

export class JobNotFoundError extends AppError {
  declare readonly code: 'JOB_NOT_FOUND'
  constructor(jobId: string) {
    super('not_found', 'JOB_NOT_FOUND', `job ${jobId} does not exist`)
  }
}

export class InvalidJobIdError extends AppError {
  constructor(value: string) {
    super('invalid', 'INVALID_JOB_ID', `job_id must be a ULID; got ${JSON.stringify(value.slice(0, 40))}`)
  }
}

export function parseJobId(value: string): JobId {
  if (!isJobId(value)) throw new InvalidJobIdError(value)
  return value
}

export class JobAlreadyFinalError extends AppError {
  constructor(jobId: string, status: JobStatus) {
    super('conflict', 'JOB_ALREADY_FINAL', `job ${jobId} is already ${status}`)
  }
}

export class ImageNotReadyError extends AppError {
  constructor(imageId: string, status: string) {
    super('conflict', 'IMAGE_NOT_READY', `image ${imageId} is ${status}; a job needs a ready image`)
  }
}

export class TooManyJobsError extends AppError {
  constructor(limit: number) {
    super('limited', 'TOO_MANY_JOBS', `at most ${limit} jobs may be queued or running at once; wait for one to finish`)
  }
}

export class IdempotencyKeyReusedError extends AppError {
  constructor() {
    super('conflict', 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request')
  }
}

export class ProcessingUnavailableError extends AppError {
  constructor() {
    super('unavailable', 'PROCESSING_UNAVAILABLE', 'AI processing is not configured on this deployment (JOBS_QUEUE_URL)')
  }
}
