import type { IncomingMessage } from 'node:http'
import { GetObjectCommand, type HeadObjectCommandOutput, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { SignatureV4 } from '@smithy/signature-v4'
import { type BucketEndpoint, bucketEndpointFromPresignedUrl, PLAIN_KEY } from './s3-bucket-endpoint.ts'
import { S3RequestError } from './s3-errors.ts'
import { createSignedExchange, readErrorBody } from './signed-exchange.ts'

/** The uploader-settable headers of a stored object, as S3 answers them on a GET. */
export type StoredObjectHeaders = Partial<
  Record<'cache-control' | 'content-disposition' | 'content-encoding' | 'content-language' | 'expires', string>
>

export type S3ObjectRead = {
  status: number
  etag: string | undefined
  contentType: string | undefined
  contentLength: number | undefined
  contentRange: string | undefined
  headers: StoredObjectHeaders
  /** Read it, or leave the loop early: leaving destroys the stream and its connection. */
  body: AsyncIterable<Uint8Array>
}

/**
 * The two object calls on the processor's path for every upload (a GET, with a range and a
 * pinned version, and a PUT of a small body), made with the SDK's own SigV4 signer and
 * credentials but without its client: the SDK spends about 1.2-1.4 ms of CPU per call here on
 * its middleware stack, endpoint rules, retry bookkeeping and response parsing, several times
 * the signature and the HTTP exchange (bench/notes.md). Where the requests go is what the SDK
 * resolves for the bucket, read once from a URL it presigns; a key, endpoint or signing scheme
 * outside what that covers goes through the SDK client as before.
 *
 * A 2xx answer resolves; any other answer rejects with S3RequestError (status and S3's error
 * code), which the s3-errors helpers classify like the SDK's exceptions. A dropped connection
 * or a 429/5xx answer is tried again, three tries in all, with jittered backoff.
 */
export type S3ObjectRequests = {
  getObject(objectKey: string, options?: { range?: string; ifMatch?: string }): Promise<S3ObjectRead>
  putObject(objectKey: string, body: Uint8Array, options: { contentType: string; cacheControl?: string }): Promise<void>
}

export type S3ObjectRequestsOptions = {
  client: S3Client
  bucket: string
  /** An idle socket (no bytes either way) for this long fails the try. */
  socketTimeoutMs?: number
  /** Tries per call, the first included. */
  maxAttempts?: number
  /** Base of the exponential backoff between tries; each wait is random up to base * 2^try. */
  backoffBaseMs?: number
}

export function createS3ObjectRequests(options: S3ObjectRequestsOptions): S3ObjectRequests {
  const { client, bucket } = options
  const sdk = sdkObjectRequests(client, bucket)
  let direct: Promise<S3ObjectRequests | null> | undefined
  const resolved = () => {
    direct ??= learnEndpoint(client, bucket).then(
      (endpoint) => (endpoint === null ? null : directObjectRequests(client, endpoint, options)),
      // The SDK reports the same problem on the call itself; try to learn again next time.
      () => {
        direct = undefined
        return null
      },
    )
    return direct
  }
  return {
    async getObject(objectKey, read) {
      const fast = PLAIN_KEY.test(objectKey) ? await resolved() : null
      return (fast ?? sdk).getObject(objectKey, read)
    },
    async putObject(objectKey, body, put) {
      const fast = PLAIN_KEY.test(objectKey) ? await resolved() : null
      return (fast ?? sdk).putObject(objectKey, body, put)
    },
  }
}

async function learnEndpoint(client: S3Client, bucket: string): Promise<BucketEndpoint | null> {
  const probeKey = 'endpoint-probe'
  const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: probeKey }), { expiresIn: 60 })
  return bucketEndpointFromPresignedUrl(url, probeKey)
}

function directObjectRequests(client: S3Client, endpoint: BucketEndpoint, options: S3ObjectRequestsOptions): S3ObjectRequests {
  const exchange = createSignedExchange({
    signer: new SignatureV4({
      credentials: client.config.credentials,
      region: endpoint.region,
      service: endpoint.service,
      sha256: client.config.sha256,
      // S3 signs the path as sent, not encoded twice.
      uriEscapePath: false,
      applyChecksum: true,
    }),
    endpoint,
    answerError: s3RequestError,
    socketTimeoutMs: options.socketTimeoutMs,
    maxAttempts: options.maxAttempts,
    backoffBaseMs: options.backoffBaseMs,
  })
  const path = (objectKey: string) => endpoint.pathPrefix + objectKey

  return {
    async getObject(objectKey, read = {}) {
      const headers: Record<string, string> = {}
      if (read.range !== undefined) headers.range = read.range
      if (read.ifMatch !== undefined) headers['if-match'] = read.ifMatch
      const response = await exchange({ method: 'GET', path: path(objectKey), headers })
      const h = response.headers
      const length = h['content-length']
      return {
        status: response.statusCode ?? 200,
        etag: h.etag,
        contentType: h['content-type'],
        contentLength: length === undefined ? undefined : Number(length),
        contentRange: h['content-range'],
        headers: pickStoredHeaders(h),
        body: response,
      }
    },
    async putObject(objectKey, body, put) {
      const headers: Record<string, string> = { 'content-type': put.contentType }
      if (put.cacheControl !== undefined) headers['cache-control'] = put.cacheControl
      const response = await exchange({ method: 'PUT', path: path(objectKey), headers, body })
      response.resume()
    },
  }
}

/** The same calls through the SDK client: keys or endpoints the direct path does not cover. */
function sdkObjectRequests(client: S3Client, bucket: string): S3ObjectRequests {
  return {
    async getObject(objectKey, read = {}) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey, Range: read.range, IfMatch: read.ifMatch }))
      return {
        status: object.$metadata.httpStatusCode ?? 200,
        etag: object.ETag,
        contentType: object.ContentType,
        contentLength: object.ContentLength,
        contentRange: object.ContentRange,
        headers: storedHeadersOf(object),
        body: (object.Body as AsyncIterable<Uint8Array> | undefined) ?? emptyBody(),
      }
    },
    async putObject(objectKey, body, put) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: objectKey,
          Body: body,
          ContentType: put.contentType,
          ContentLength: body.byteLength,
          CacheControl: put.cacheControl,
        }),
      )
    },
  }
}

const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const

/** The uploader-settable headers of the SDK's HEAD or GET output. */
export function storedHeadersOf(
  output: Pick<
    HeadObjectCommandOutput,
    'CacheControl' | 'ContentDisposition' | 'ContentEncoding' | 'ContentLanguage' | 'Expires' | 'ExpiresString'
  >,
): StoredObjectHeaders {
  return withoutEmpty({
    'cache-control': output.CacheControl,
    'content-disposition': output.ContentDisposition,
    'content-encoding': output.ContentEncoding,
    'content-language': output.ContentLanguage,
    expires: output.ExpiresString ?? output.Expires?.toUTCString(),
  })
}

function pickStoredHeaders(headers: IncomingMessage['headers']): StoredObjectHeaders {
  return withoutEmpty(Object.fromEntries(STORED_HEADERS.map((name) => [name, headers[name]])))
}

function withoutEmpty(values: Record<string, string | string[] | undefined>): StoredObjectHeaders {
  const out: StoredObjectHeaders = {}
  for (const name of STORED_HEADERS) {
    const value = values[name]
    const text = Array.isArray(value) ? value.join(', ') : value
    if (text !== undefined && text !== '') out[name] = text
  }
  return out
}

async function* emptyBody(): AsyncIterable<Uint8Array> {}

/** S3's XML error (`<Code>`, `<Message>`), read up to a bound; a HEAD-like empty body is fine. */
async function s3RequestError(method: string, status: number, response: IncomingMessage): Promise<S3RequestError> {
  const text = await readErrorBody(response)
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1]
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1]
  return new S3RequestError(status, code, `${method} answered ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`)
}
