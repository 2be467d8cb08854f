/// <reference path="./s3rver.d.ts" />
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import S3rver from '@20minutes/s3rver'
import type { S3rverEventRecord } from '@20minutes/s3rver'
import { checkS3Request, isCreateOnlyPut, writeS3Error } from './s3-auth-guard.ts'
import { signBucketPathAsSent } from './s3-bucket-path-signature.ts'
import { answerIncompleteBodies } from './s3-incomplete-body.ts'
import { refuseOverwrites } from './s3-conditional-put.ts'
import { answerReadsAsS3 } from './s3-conditional-read.ts'
import { addCorsHeaders, browserUploadCorsRule, corsConfigurationXml } from './s3-cors.ts'
import { keepDirectoriesOnDelete } from './s3-keep-directories.ts'
import { listObjectsV2Pages } from './s3-list-objects.ts'
import { supportMultipart } from './s3-multipart.ts'
import { registerS3AccessKey } from './s3-credentials.ts'

export type ObjectCreatedEventName =
  | 'ObjectCreated:Put'
  | 'ObjectCreated:Post'
  | 'ObjectCreated:Copy'
  | 'ObjectCreated:CompleteMultipartUpload'

/** One stored object. `key` is the raw key (not URL-encoded); `eTag` has no quotes. */
export type ObjectCreatedEvent = {
  eventName: ObjectCreatedEventName
  bucket: string
  key: string
  size: number
  eTag: string
  eventTime: Date
  sequencer: string
}

export type S3EmulatorOptions = {
  port?: number
  host?: string
  buckets: string[]
  directory?: string
  accessKeyId?: string
  secretAccessKey?: string
  /** How long a request body may stall before S3's 400 RequestTimeout; S3 waits about 20 s. */
  bodyIdleTimeoutMs?: number
  /**
   * Pages allowed to upload from a browser: every bucket gets the CORS rule of s3-cors.ts for
   * these origins (`*` for any). None: no CORS rule, so a browser's preflight is refused, as S3 does.
   */
  corsOrigins?: readonly string[]
}

export type S3Emulator = {
  endpoint: string
  region: 'us-east-1'
  accessKeyId: string
  secretAccessKey: string
  buckets: string[]
  /** Returns an unsubscribe function. */
  onObjectCreated(listener: (event: ObjectCreatedEvent) => void): () => void
  /**
   * Holds the requests with this method on keys under this prefix, after letting `after`
   * (default 0) of them through, so a test can choose where a client stops: `held` resolves
   * when the first one is waiting. release() lets them go on; a held request whose client has
   * gone meanwhile (a killed process) is dropped unanswered and stores nothing.
   */
  holdRequests(match: { method: string; keyPrefix: string }, options?: { after?: number }): HeldRequests
  stop(): Promise<void>
}

export type HeldRequests = {
  held: Promise<void>
  /** Requests waiting now (a client that left is no longer counted). */
  count(): number
  release(): void
}

const REGION = 'us-east-1'
// What s3rver's handlers cannot tell from their arguments: s3rver reports a multipart completion
// as a 'Post', and its store does not see the request's If-None-Match or If-Match.
// Nor does its signature check see the path as sent (s3-bucket-path-signature.ts).
const currentRequest = new AsyncLocalStorage<{
  multipartComplete: boolean
  createOnly: boolean
  ifMatch: string | undefined
  path: string
}>()
signBucketPathAsSent(() => currentRequest.getStore()?.path)

export async function startS3Emulator(options: S3EmulatorOptions): Promise<S3Emulator> {
  const host = options.host ?? '127.0.0.1'
  const accessKeyId = options.accessKeyId ?? 'devstack'
  const secretAccessKey = options.secretAccessKey ?? 'devstack-secret'
  const cors = options.corsOrigins?.length ? browserUploadCorsRule(options.corsOrigins) : undefined
  const ownsDirectory = options.directory === undefined
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'devstack-s3-')))

  const s3rver = new S3rver({
    silent: true,
    directory,
    vhostBuckets: false,
    allowMismatchedSignatures: false,
    configureBuckets: options.buckets.map((name) => ({ name, configs: cors ? [corsConfigurationXml(cors)] : [] })),
  })
  await s3rver.configureBuckets()
  refuseOverwrites(s3rver.store, () => currentRequest.getStore()?.createOnly === true)
  answerReadsAsS3(s3rver.store, () => currentRequest.getStore()?.ifMatch)
  keepDirectoriesOnDelete(s3rver.store)
  // Just before s3rver's router (the last middleware), so it wraps the router's signature check.
  s3rver.middleware.splice(s3rver.middleware.length - 1, 0, supportMultipart(s3rver.store), listObjectsV2Pages(s3rver.store))
  const releaseKey = registerS3AccessKey(accessKeyId, secretAccessKey)
  const listeners = new Set<(event: ObjectCreatedEvent) => void>()
  const nextSequencer = createSequencer()

  s3rver.on('event', ({ Records }) => {
    const multipartComplete = currentRequest.getStore()?.multipartComplete ?? false
    for (const record of Records) {
      void toObjectCreated(s3rver, record, multipartComplete, nextSequencer).then((event) => {
        if (!event) return
        for (const listener of listeners) {
          try {
            listener(event)
          } catch {
            // a faulty listener must not break the S3 request or other listeners
          }
        }
      })
    }
  })

  const handle = s3rver.callback()
  const holds = new Set<Hold>()
  const server = createServer((req, res) => {
    const denial = checkS3Request(req, REGION, new Date())
    if (denial) {
      addCorsHeaders(req, res, cors)
      return writeS3Error(res, denial)
    }
    const hold = [...holds].find((h) => h.matches(req.method, req.url))
    if (hold?.take()) {
      // A client that leaves while held never sees an answer, and stores nothing.
      const resume = () => serve(req, res)
      hold.waiting.push(resume)
      req.socket.once('close', () => {
        const at = hold.waiting.indexOf(resume)
        if (at >= 0) hold.waiting.splice(at, 1)
      })
      return
    }
    serve(req, res)
  })
  function serve(req: IncomingMessage, res: ServerResponse) {
    const multipartComplete = req.method === 'POST' && /[?&]uploadId=/.test(req.url ?? '')
    const ifMatch = req.method === 'GET' || req.method === 'HEAD' ? req.headers['if-match'] : undefined
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    currentRequest.run({ multipartComplete, createOnly: isCreateOnlyPut(req), ifMatch, path }, () => handle(req, res))
  }
  answerIncompleteBodies(server, options.bodyIdleTimeoutMs ?? 20_000)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    endpoint: `http://${host}:${port}`,
    region: REGION,
    accessKeyId,
    secretAccessKey,
    buckets: [...options.buckets],
    onObjectCreated(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    holdRequests(match, holdOptions = {}) {
      const hold = createHold(match, holdOptions.after ?? 0, options.buckets)
      holds.add(hold)
      return {
        held: hold.held,
        count: () => hold.waiting.length,
        release() {
          holds.delete(hold)
          hold.releaseAll()
        },
      }
    },
    async stop() {
      for (const hold of holds) hold.releaseAll()
      holds.clear()
      listeners.clear()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      s3rver.logger.exceptions.unhandle()
      s3rver.logger.close()
      releaseKey()
      if (ownsDirectory) await rm(directory, { recursive: true, force: true })
    },
  }
}

async function toObjectCreated(
  s3rver: S3rver,
  record: S3rverEventRecord,
  multipartComplete: boolean,
  nextSequencer: () => string,
): Promise<ObjectCreatedEvent | undefined> {
  const eventName = objectCreatedName(record.eventName, multipartComplete)
  if (!eventName) return undefined
  const { bucket, object } = record.s3
  // s3rver leaves the ETag out of copy events; the stored metadata has it.
  const eTag = object.eTag ?? (await s3rver.store.getMetadata(bucket.name, object.key).catch(() => undefined))?.etag
  return {
    eventName,
    bucket: bucket.name,
    key: object.key,
    size: Number(object.size ?? 0),
    eTag: (eTag ?? '').replace(/"/g, ''),
    eventTime: new Date(record.eventTime),
    sequencer: nextSequencer(),
  }
}

function objectCreatedName(name: string, multipartComplete: boolean): ObjectCreatedEventName | undefined {
  if (name === 'ObjectCreated:Put' || name === 'ObjectCreated:Copy') return name
  if (name === 'ObjectCreated:Post') return multipartComplete ? 'ObjectCreated:CompleteMultipartUpload' : name
  return undefined
}

/** S3 sequencers are hex strings that only grow (per key); time plus a counter does that. */
type Hold = {
  matches(method: string | undefined, url: string | undefined): boolean
  /** Counts a matching request; true when it must wait. */
  take(): boolean
  waiting: (() => void)[]
  held: Promise<void>
  releaseAll(): void
}

function createHold(match: { method: string; keyPrefix: string }, after: number, buckets: string[]): Hold {
  let passed = 0
  let markHeld = () => {}
  const held = new Promise<void>((resolve) => (markHeld = resolve))
  const waiting: (() => void)[] = []
  return {
    waiting,
    held,
    matches(method, url) {
      if (method !== match.method) return false
      const path = decodeURIComponent((url ?? '/').split('?')[0] ?? '/')
      return buckets.some((bucket) => path.startsWith(`/${bucket}/${match.keyPrefix}`))
    },
    take() {
      if (passed < after) {
        passed++
        return false
      }
      markHeld()
      return true
    },
    releaseAll() {
      for (const run of waiting.splice(0)) run()
    },
  }
}

function createSequencer(): () => string {
  let counter = 0
  return () => {
    counter += 1
    const time = Date.now().toString(16).toUpperCase().padStart(12, '0')
    return `${time}${counter.toString(16).toUpperCase().padStart(6, '0')}`
  }
}
