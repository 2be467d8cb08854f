import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs'
import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { AppError, DependencyUnavailableError } from '../../common/errors.ts'

/** Sends messages of one schema to one queue. The port commands depend on (fakes implement it). */
export type QueueSender<T> = {
  sendMessage(body: T, options?: { delaySeconds?: number }): Promise<{ messageId: string }>
}

/** A body that does not match its queue's schema: a bug in the sender, never retried. */
export class InvalidQueueMessageError extends AppError {
  constructor(queue: string, problem: string) {
    super('internal', 'INVALID_QUEUE_MESSAGE', `message for ${queue} does not match its schema: ${problem}`)
  }
}

/**
 * The body is checked against the schema before it leaves, so a consumer never has to
 * acknowledge a malformed message we wrote ourselves. SQS errors become QUEUE_UNAVAILABLE.
 */
export function createSqsSender<S extends TSchema>(deps: { sqs: SQSClient; queueUrl: string; schema: S }): QueueSender<Static<S>> {
  const check = TypeCompiler.Compile(deps.schema)
  return {
    async sendMessage(body, options = {}) {
      if (!check.Check(body)) {
        const first = check.Errors(body).First()
        throw new InvalidQueueMessageError(deps.queueUrl, first ? `${first.path || '/'} ${first.message}` : 'invalid')
      }
      try {
        const { MessageId } = await deps.sqs.send(
          new SendMessageCommand({
            QueueUrl: deps.queueUrl,
            MessageBody: JSON.stringify(body),
            ...(options.delaySeconds === undefined ? {} : { DelaySeconds: options.delaySeconds }),
          }),
        )
        return { messageId: MessageId ?? '' }
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error)
        throw new DependencyUnavailableError('QUEUE_UNAVAILABLE', `the queue could not take a message: ${reason}`, { cause: error })
      }
    },
  }
}
