import { SQSClient } from '@aws-sdk/client-sqs'
import { AwsSha256 } from '../storage/aws-sha256.ts'

export type SqsClientOptions = {
  region: string
  /** Custom endpoint (ElasticMQ, an emulator); unset for AWS. */
  endpoint?: string | undefined
  /** Unset: the SDK's default chain (env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined
}

export function createSqsClient(options: SqsClientOptions): SQSClient {
  return new SQSClient({
    region: options.region,
    // SigV4 with cached HMAC keys: a visible share of the worker's CPU otherwise (see AwsSha256).
    sha256: AwsSha256,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  })
}
