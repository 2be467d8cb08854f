import {
  createMessageParser,
  JobMessage,
  type JobRunner,
  type Logger,
  type MessageHandler,
  type MessageProcessedListener,
  type MessageResult,
  parseJobId,
} from '@image-service/foundation'

const parse = createMessageParser(JobMessage)

/**
 * One message of the jobs queue -> one look at its job (the runner decides the step from the
 * job's state). A malformed body is acknowledged and logged: a retry would end the same way.
 */
export function createJobsMessageHandler(deps: { run: JobRunner }): MessageHandler {
  return async (message): Promise<MessageResult> => {
    const parsed = parse(message.body)
    if (!parsed.ok)
      return { type: 'ack', subjects: [{ outcome: 'ignored', reason: 'malformed_job_message', detail: { problem: parsed.problem } }] }
    const started = performance.now()
    const jobId = parseJobId(parsed.value.job_id)
    const result = await deps.run(jobId)
    const subject = {
      id: jobId,
      outcome: result.outcome,
      ...(result.reason === undefined ? {} : { reason: result.reason }),
      durationMs: Math.round(performance.now() - started),
      detail: { cause: parsed.value.reason },
    }
    return result.outcome === 'retry'
      ? { type: 'retry', reason: result.reason ?? 'UNEXPECTED', subjects: [subject] }
      : { type: 'ack', subjects: [subject] }
  }
}

/** One log line per look at a job: `{ jobId, outcome, reason }`. */
export function logJobsMessage(log: Logger): MessageProcessedListener {
  return (event) => {
    for (const { id, outcome, reason, durationMs, detail } of event.subjects) {
      const fields = { messageId: event.messageId, receiveCount: event.receiveCount, jobId: id, outcome, reason, durationMs, ...detail }
      if (outcome === 'retry' || outcome === 'ignored') log.warn(fields, 'job message left for retry or ignored')
      else log.info(fields, 'looked at job')
    }
  }
}
