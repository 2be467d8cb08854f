import type { SQSClient } from '@aws-sdk/client-sqs'
import { type SqsEmulator, startSqsEmulator } from '@image-service/devstack'
import { createSqsClient } from '../sqs-client.ts'

export type SpecSqs = { sqs: SqsEmulator; client: SQSClient; stop(): Promise<void> }

/** An SQS emulator of a spec's own, and the production client wired to it. */
export async function startSpecSqs(): Promise<SpecSqs> {
  const sqs = await startSqsEmulator()
  const client = createSqsClient({
    region: sqs.region,
    endpoint: sqs.endpoint,
    credentials: { accessKeyId: sqs.accessKeyId, secretAccessKey: sqs.secretAccessKey },
  })
  return {
    sqs,
    client,
    async stop() {
      client.destroy()
      await sqs.stop()
    },
  }
}
