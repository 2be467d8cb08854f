// s3rver ships no types; these cover only what the devstack uses.
declare module '@20minutes/s3rver' {
  import type { EventEmitter } from 'node:events'
  import type { IncomingMessage, ServerResponse } from 'node:http'

  export type S3rverEventRecord = {
    eventName: string
    eventTime: string
    s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string } }
  }

  export type S3rverOptions = {
    silent?: boolean
    directory: string
    vhostBuckets?: boolean
    allowMismatchedSignatures?: boolean
    configureBuckets?: Array<{ name: string; configs?: Array<string | Buffer> }>
  }

  /** What s3rver's store answers a read with; `content` is null for an unsatisfiable range. */
  export type S3rverObject = {
    metadata: Record<string, string>
    readonly size: number
    content: { destroy(): void } | null
  }

  /** s3rver's FilesystemStore; its methods are looked up on the instance, so they can be wrapped. */
  export type S3rverStore = {
    getMetadata(bucket: string, key: string): Promise<Record<string, string>>
    getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<S3rverObject | null>
    existsObject(bucket: string, key: string): Promise<boolean>
    deleteObject(bucket: string, key: string): Promise<void>
    /** The filesystem store's path of one of an object's files ('object', 'object.md5', 'metadata.json'). */
    getResourcePath(bucket: string, key: string | undefined, resource: string): string
    putObject(object: { bucket: string; key: string }): Promise<{ size: number; md5: string }>
    /** Streams content into a file: [size, md5 hex]. */
    putContent(path: string, content: NodeJS.ReadableStream | Buffer): Promise<[number, string]>
    putPart(
      bucket: string,
      uploadId: string,
      partNumber: string | number,
      content: NodeJS.ReadableStream,
    ): Promise<{ size: number; md5: string }>
    /** `parts` as the Complete request listed them, ETags without quotes. */
    putObjectMultipart(bucket: string, uploadId: string, parts: { number: number; etag: string }[]): Promise<{ size: number; md5: string }>
    listObjects(
      bucket: string,
      options: { prefix?: string; delimiter?: string; startAfter?: string; maxKeys?: number },
    ): Promise<{
      objects: { key: string; lastModifiedDate: Date; metadata: Record<string, string>; size: number }[]
      commonPrefixes: string[]
      isTruncated: boolean
    }>
    copyObject(
      srcBucket: string,
      srcKey: string,
      destBucket: string,
      destKey: string,
      replacementMetadata: Record<string, unknown> | null,
    ): Promise<Record<string, string>>
  }

  /** The parts of a Koa context the devstack reads or sets. */
  export type S3rverContext = {
    method: string
    path: string
    query: Record<string, string | string[] | undefined>
    status: number
    body: unknown
    /** `account` is set once s3rver's router has verified the request's signature. */
    state: { account?: unknown }
  }
  export type S3rverMiddleware = (ctx: S3rverContext, next: () => Promise<void>) => Promise<void>

  export default class S3rver extends EventEmitter {
    /** Koa's middleware stack; composed when callback() is called. */
    middleware: S3rverMiddleware[]
    constructor(options: S3rverOptions)
    configureBuckets(): Promise<void>
    callback(): (req: IncomingMessage, res: ServerResponse) => void
    store: S3rverStore
    logger: { close(): void; exceptions: { unhandle(): void } }
    on(event: 'event', listener: (event: { Records: S3rverEventRecord[] }) => void): this
    on(event: string, listener: (...args: unknown[]) => void): this
  }
}

declare module '@20minutes/s3rver/lib/models/account.js' {
  type Account = {
    createKeyPair(accessKeyId: string, secretAccessKey: string): void
    revokeAccessKey(accessKeyId: string): void
    accessKeys: Map<string, string>
  }
  const AWSAccount: { DUMMY_ACCOUNT: Account; registry: Map<string, Account> }
  export default AWSAccount
}

declare module '@20minutes/s3rver/lib/models/error.js' {
  /** Rendered by s3rver as S3's XML error, with the status S3 gives the code (412 for PreconditionFailed). */
  export default class S3Error extends Error {
    constructor(code: string, message: string, detail?: Record<string, string>)
    readonly code: string
    readonly status: number
  }
}

declare module '@20minutes/s3rver/lib/signature/v4.js' {
  /** What s3rver's authentication middleware canonicalised; `uri` is rebuilt from bucket and key. */
  type CanonicalRequest = { method: string; uri: string; querystring: string; headers: Record<string, unknown> } & Record<string, unknown>
  type V4 = { getStringToSign(canonicalRequest: CanonicalRequest, signature: unknown): string }
  const v4: V4
  export default v4
}
