import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs'
import { buildApp } from 'fauxqs'

export type SqsEmulatorOptions = { port?: number; host?: string }

export type CreatedQueue = { queueUrl: string; dlqUrl?: string }

export type SqsEmulator = {
  endpoint: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  /** With `dlq`, also creates `<name>-dlq` and a RedrivePolicy pointing at it. */
  createQueue(name: string, options?: { dlq?: { maxReceiveCount: number }; visibilityTimeoutSeconds?: number }): Promise<CreatedQueue>
  stop(): Promise<void>
}

const REGION = 'us-east-1'

/**
 * An in-process SQS (npm `fauxqs`), in memory: queues and messages do not survive a restart.
 * fauxqs does not check signatures; clients still sign, so code paths match AWS.
 * We use its `buildApp` rather than `startFauxqs` so that it listens on the given host only
 * (startFauxqs binds 0.0.0.0).
 */
export async function startSqsEmulator(options: SqsEmulatorOptions = {}): Promise<SqsEmulator> {
  const host = options.host ?? '127.0.0.1'
  const app = buildApp({ logger: false, defaultRegion: REGION })
  await app.listen({ port: options.port ?? 0, host })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('SQS emulator has no TCP address')
  const endpoint = `http://${host}:${address.port}`
  const credentials = { accessKeyId: 'devstack', secretAccessKey: 'devstack-secret' }
  const admin = new SQSClient({ endpoint, region: REGION, credentials })

  const createOne = async (name: string, attributes: Record<string, string>) => {
    const { QueueUrl } = await admin.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))
    if (!QueueUrl) throw new Error(`SQS emulator returned no URL for queue ${name}`)
    // fauxqs names queues `http://sqs.<region>.localhost:<port>/...`, a host that does not resolve
    // everywhere; it looks queues up by path alone, so our own endpoint serves the same queue.
    return `${endpoint}${new URL(QueueUrl).pathname}`
  }

  return {
    endpoint,
    region: REGION,
    ...credentials,
    async createQueue(name, queueOptions = {}) {
      const attributes: Record<string, string> = {}
      if (queueOptions.visibilityTimeoutSeconds !== undefined) {
        attributes.VisibilityTimeout = String(queueOptions.visibilityTimeoutSeconds)
      }
      if (!queueOptions.dlq) return { queueUrl: await createOne(name, attributes) }

      const dlqUrl = await createOne(`${name}-dlq`, {})
      const { Attributes } = await admin.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))
      const deadLetterTargetArn = Attributes?.QueueArn
      if (!deadLetterTargetArn) throw new Error(`SQS emulator returned no ARN for ${name}-dlq`)
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn,
        maxReceiveCount: String(queueOptions.dlq.maxReceiveCount),
      })
      return { queueUrl: await createOne(name, attributes), dlqUrl }
    },
    async stop() {
      admin.destroy()
      // close() also wakes pending long polls (fauxqs cancels its waiters on preClose)
      await app.close()
    },
  }
}
