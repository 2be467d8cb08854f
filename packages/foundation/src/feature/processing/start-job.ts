import { createHash } from 'node:crypto'
import { AppError } from '../../common/errors.ts'
import type { Logger } from '../../common/logger.ts'
import { type RequestContext, requireUser } from '../../shared/identity/request-context.ts'
import { ImageNotFoundError, parseImageId } from '../../shared/image/image.ts'
import type { QueueSender } from '../../shared/queue/sqs-sender.ts'
import { IdempotencyKeyReusedError, ImageNotReadyError, type Job, type JobId, ProcessingUnavailableError, TooManyJobsError } from './job.ts'
import type { JobMessage } from './job-message.ts'
import type { JobRepository } from './job-repository.ts'
import type { WorkflowCatalog } from './workflows.ts'

export type StartJobCommand = {
  imageId: string
  workflowId: string
  parameters: unknown
  idempotencyKey?: string | undefined
}

export class InvalidIdempotencyKeyError extends AppError {
  constructor() {
    super('invalid', 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1..255 visible ASCII characters')
  }
}
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

/**
 * processing/start: the workflow and its parameters are checked here (the edge of foundation),
 * then one transaction decides and inserts the job with its event and audit row, then the
 * jobs queue is told. A start retried with the same Idempotency-Key returns the same job and,
 * while that job is still queued, tells the queue again: a message lost between the commit
 * and the send (a crash, a queue outage answered with 503) is recovered by the client's retry.
 */
export function createStartJob(deps: {
  jobs: JobRepository
  workflows: WorkflowCatalog
  queue: QueueSender<JobMessage> | undefined
  newId: () => JobId
  maxConcurrentPerOwner: number
  log?: Logger
}) {
  return async (ctx: RequestContext, cmd: StartJobCommand): Promise<Job> => {
    const owner = requireUser(ctx)
    const imageId = parseImageId(cmd.imageId)
    const workflow = deps.workflows.get(cmd.workflowId)
    const parameters = deps.workflows.validate(workflow, cmd.parameters)
    if (cmd.idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(cmd.idempotencyKey)) throw new InvalidIdempotencyKeyError()
    if (deps.queue === undefined) throw new ProcessingUnavailableError()
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([imageId, workflow.id, parameters]))
      .digest('hex')
    const decision = await deps.jobs.insertQueued(
      {
        id: deps.newId(),
        ownerId: owner.ownerId,
        imageId,
        workflowId: workflow.id,
        model: workflow.model,
        parameters,
        input: { ...workflow.defaults, ...parameters },
        idempotencyKey: cmd.idempotencyKey,
        requestFingerprint: fingerprint,
      },
      { maxActive: deps.maxConcurrentPerOwner },
      ctx,
    )
    switch (decision.outcome) {
      case 'image_missing':
        throw new ImageNotFoundError(imageId)
      case 'image_not_ready':
        throw new ImageNotReadyError(imageId, decision.status)
      case 'too_many':
        throw new TooManyJobsError(deps.maxConcurrentPerOwner)
      case 'existing':
        if (!decision.sameRequest) throw new IdempotencyKeyReusedError()
        if (decision.job.status === 'queued') await deps.queue.sendMessage({ type: 'job', job_id: decision.job.id, reason: 'start' })
        return decision.job
      case 'created':
        await deps.queue.sendMessage({ type: 'job', job_id: decision.job.id, reason: 'start' })
        return decision.job
    }
  }
}
