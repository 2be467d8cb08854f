import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs'
import { DependencyUnavailableError } from '../../common/errors.ts'

/**
 * Readiness of one queue: GetQueueAttributes answers within `timeoutMs`. It needs the same
 * permission as reading the queue's depth (sqs:GetQueueAttributes), nothing more.
 */
export async function pingQueue(sqs: SQSClient, queueUrl: string, timeoutMs = 2000): Promise<void> {
  try {
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }), {
      abortSignal: AbortSignal.timeout(timeoutMs),
    })
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new DependencyUnavailableError('QUEUE_UNAVAILABLE', `the queue did not answer: ${reason}`, { cause: error })
  }
}
