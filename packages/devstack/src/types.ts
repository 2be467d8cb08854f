import type { S3Emulator } from './s3-emulator.ts'
import type { FalEmulator } from './fal-emulator.ts'
import type { DevIdentityProvider } from './dev-identity-provider.ts'

/** Everything an app or a test needs to talk to a running dev stack. */
export type S3Endpoint = {
  endpoint: string
  region: string
  bucket: string
  accessKeyId: string
  secretAccessKey: string
}

export type SqsEndpoint = {
  endpoint: string
  region: string
  queueUrl: string
  dlqUrl: string
  /** AI jobs (JOBS_QUEUE_URL) and their own DLQ. */
  jobsQueueUrl: string
  jobsDlqUrl: string
  accessKeyId: string
  secretAccessKey: string
}

export type CdnEndpoint = {
  baseUrl: string
  keyPairId: string
  privateKeyPem: string
  publicKeyPem: string
}

export type DevStack = {
  database: { url: string }
  /** The S3 emulator; holdRequests picks where a client's requests stop (tests of crashes). */
  s3: S3Endpoint & Pick<S3Emulator, 'holdRequests'>
  sqs: SqsEndpoint
  cdn: CdnEndpoint
  /** The fal.ai emulator the processor submits AI jobs to. */
  fal: FalEmulator
  /** The external identity provider the api trusts in development: sign tokens with it. */
  identity: DevIdentityProvider
  /** The environment variables (see foundation's config) that point the apps at this stack. */
  env: Record<string, string>
  stop(): Promise<void>
}
