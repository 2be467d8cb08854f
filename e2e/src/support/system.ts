import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import {
  type AppProcess,
  appProcessEnv,
  createEmulatorS3Client,
  type DevStack,
  findFreePort,
  startAppProcess,
  startDevStack,
} from '@image-service/devstack'
import { type ApiClient, type Credential, createApiClient } from './api-client.ts'

/** The owner `api` acts for; other owners get their own client from `clientFor`. */
export const E2E_OWNER = 'e2e-owner'

export type RunningSystem = {
  stack: DevStack
  apiUrl: string
  /** A client for E2E_OWNER. */
  api: ApiClient
  /** A client bound to this owner's tokens, from the stack's identity provider. */
  clientFor(owner: string): ApiClient
  /** Every processor started so far, in order; the last one is the current one. */
  processors: AppProcess[]
  startProcessor(): Promise<AppProcess>
  /** True when storage still holds the upload's object. */
  objectExists(imageId: string): Promise<boolean>
  /** Every key under the prefix, sorted (e.g. `variants/{id}/`). */
  listKeys(prefix: string): Promise<string[]>
  /** One stored object as storage serves it, read straight from the bucket. */
  readObject(key: string): Promise<{ bytes: Uint8Array; contentType: string | undefined; cacheControl: string | undefined }>
  /** Last lines of every process, for a failure report. */
  transcript(lines?: number): string
  stop(): Promise<void>
}

/**
 * The dev stack plus the api and one processor as separate processes, started by the same
 * entry points the containers run. Tests then talk HTTP to the api, and S3 only to check
 * that refused objects were deleted.
 */
export async function startSystem(
  options: { visibilityTimeoutSeconds?: number; env?: Record<string, string> } = {},
): Promise<RunningSystem> {
  const stack = await startDevStack(
    options.visibilityTimeoutSeconds !== undefined ? { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds } : {},
  )
  const processes: AppProcess[] = []
  const processors: AppProcess[] = []
  const s3 = createEmulatorS3Client(stack.s3)

  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()))
    s3.destroy()
    await stack.stop()
  }

  try {
    const port = await findFreePort()
    const env = appProcessEnv(stack, {
      PORT: String(port),
      // One owner drives every case and polls statuses: a budget the suite never reaches, so
      // it measures the pipeline, not the rate limit (which has specs of its own).
      RATE_LIMIT_PER_MINUTE: '1000000',
      RATE_LIMIT_ISSUANCE_PER_MINUTE: '1000000',
      ...options.env,
    })
    const apiUrl = `http://127.0.0.1:${port}`
    const apiProcess = startAppProcess({ name: 'api', entry: 'apps/api/src/main.ts', env })
    processes.push(apiProcess)

    const startProcessor = async () => {
      const processor = startAppProcess({ name: `processor#${processors.length + 1}`, entry: 'apps/processor/src/main.ts', env })
      processes.push(processor)
      processors.push(processor)
      await processor.waitForLog((line) => line.msg === 'processor started', 'start-up log line')
      return processor
    }

    const clientFor = (owner: string) => createApiClient(apiUrl, ownerTokens(stack, owner))
    const api = clientFor(E2E_OWNER)
    await Promise.all([apiProcess.waitForHttp(`${apiUrl}/api/health/readiness`), startProcessor()])

    return {
      stack,
      apiUrl,
      api,
      clientFor,
      processors,
      startProcessor,
      async objectExists(imageId) {
        try {
          await s3.send(new HeadObjectCommand({ Bucket: stack.s3.bucket, Key: `uploads/${imageId}` }))
          return true
        } catch (error) {
          if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false
          throw error
        }
      },
      async listKeys(prefix) {
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: stack.s3.bucket, Prefix: prefix }))
        return (listed.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key])).sort()
      },
      async readObject(key) {
        const object = await s3.send(new GetObjectCommand({ Bucket: stack.s3.bucket, Key: key }))
        return {
          bytes: (await object.Body?.transformToByteArray()) ?? new Uint8Array(0),
          contentType: object.ContentType,
          cacheControl: object.CacheControl,
        }
      },
      transcript(lines = 60) {
        return processes
          .map((p) => `----- ${p.name} (pid ${p.pid}), last ${lines} lines -----\n${p.output().split('\n').slice(-lines).join('\n')}`)
          .join('\n')
      },
      stop,
    }
  } catch (error) {
    const output = processes.map((p) => `----- ${p.name} -----\n${p.output()}`).join('\n')
    await stop().catch(() => undefined)
    throw new Error(`system did not start\n${output}`, { cause: error })
  }
}

const TOKEN_LIFETIME_SECONDS = 3600

/** A token for the owner, signed by the dev identity provider and renewed well before it expires. */
function ownerTokens(stack: DevStack, owner: string): Credential {
  let current: { token: Promise<string>; renewAt: number } | undefined
  return () => {
    if (current === undefined || Date.now() >= current.renewAt) {
      current = {
        token: stack.identity.token({ subject: owner, expiresInSeconds: TOKEN_LIFETIME_SECONDS }),
        renewAt: Date.now() + (TOKEN_LIFETIME_SECONDS / 2) * 1000,
      }
    }
    return current.token
  }
}
