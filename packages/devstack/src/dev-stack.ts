import { join } from 'node:path'
import { migrate } from '@image-service/migrations'
import { startDevIdentityProvider } from './dev-identity-provider.ts'
import { startFalEmulator } from './fal-emulator.ts'
import { createStopList, startEmulatorStack } from './emulator-stack.ts'
import type { BridgeLogger } from './s3-event-bridge.ts'
import { startPostgres } from './postgres.ts'
import type { DevStack } from './types.ts'

export type DevStackOptions = {
  /** Persistent data (PostgreSQL cluster, S3 objects, CDN key pair); default temp dirs removed on stop. */
  dataDir?: string
  /** 0 or undefined = a free port. */
  ports?: { postgres?: number; s3?: number; sqs?: number; cdn?: number; identity?: number; fal?: number }
  /** The `aud` of the identity provider's tokens; the api's AUTH_AUDIENCE. */
  audience?: string
  bucket?: string
  queueName?: string
  /** SQS visibility timeout of the queue; default the emulator's (30 s). */
  visibilityTimeoutSeconds?: number
  /** Pages allowed to upload to the bucket from a browser (its CORS rule): the demo page's origin. */
  corsOrigins?: readonly string[]
  /** Use this PostgreSQL server (and database) instead of starting an embedded one. */
  databaseUrl?: string
  logger?: BridgeLogger
}

/**
 * The whole embedded default: PostgreSQL (migrated), S3, SQS with DLQ, the S3 -> SQS bridge and
 * the CDN. Everything binds 127.0.0.1 on its own (or free) ports and directories, so several
 * stacks can run side by side. SQS is in memory: queued messages do not survive a restart.
 */
/** The audience of development tokens, unless the stack is told another. */
export const DEV_AUDIENCE = 'image-service'

export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const stops = createStopList()
  try {
    let databaseUrl = options.databaseUrl
    if (databaseUrl === undefined) {
      const postgres = await startPostgres({
        ...(options.dataDir ? { dataDir: join(options.dataDir, 'postgres') } : {}),
        port: options.ports?.postgres ?? 0,
      })
      stops.push(() => postgres.stop())
      databaseUrl = postgres.url
    }
    await migrate(databaseUrl)

    const emulators = await startEmulatorStack({
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      ports: { s3: options.ports?.s3 ?? 0, sqs: options.ports?.sqs ?? 0, cdn: options.ports?.cdn ?? 0 },
      ...(options.bucket ? { bucket: options.bucket } : {}),
      ...(options.queueName ? { queueName: options.queueName } : {}),
      ...(options.visibilityTimeoutSeconds !== undefined ? { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds } : {}),
      ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    })
    stops.push(() => emulators.stop())

    const { s3, sqs, cdn } = emulators
    // Its keys live with the other data, so tokens (and `pnpm token`) outlive a restart.
    const identity = await startDevIdentityProvider({
      audience: options.audience ?? DEV_AUDIENCE,
      port: options.ports?.identity ?? 0,
      ...(options.dataDir ? { stateFile: join(options.dataDir, 'identity-provider.json') } : {}),
    })
    stops.push(() => identity.stop())
    const fal = await startFalEmulator({ port: options.ports?.fal ?? 0 })
    stops.push(() => fal.stop())
    return {
      database: { url: databaseUrl },
      s3,
      sqs,
      cdn,
      fal,
      identity,
      env: {
        // The emulators speak plain http (the CDN too), which NODE_ENV=production refuses.
        NODE_ENV: 'development',
        DATABASE_URL: databaseUrl,
        AWS_REGION: s3.region,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        S3_BUCKET: s3.bucket,
        S3_ENDPOINT: s3.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        SQS_QUEUE_URL: sqs.queueUrl,
        SQS_ENDPOINT: sqs.endpoint,
        CDN_MODE: 'cloudfront',
        CDN_BASE_URL: cdn.baseUrl,
        CLOUDFRONT_KEY_PAIR_ID: cdn.keyPairId,
        CLOUDFRONT_PRIVATE_KEY: cdn.privateKeyPem,
        AUTH_ISSUER: identity.issuer,
        AUTH_AUDIENCE: identity.audience,
        AUTH_JWKS_URL: identity.jwksUrl,
        // AI jobs go to the fal emulator; FAL_KEY alone (no FAL_BASE_URL) would mean fal.ai.
        JOBS_QUEUE_URL: sqs.jobsQueueUrl,
        FAL_BASE_URL: fal.baseUrl,
        FAL_KEY: 'devstack-fal-key',
        FAL_WEBHOOK_JWKS_URL: fal.jwksUrl,
      },
      stop: stops.stopAll,
    }
  } catch (error) {
    await stops.stopAll()
    throw error
  }
}
