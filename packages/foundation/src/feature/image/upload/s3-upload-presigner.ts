import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl, S3RequestPresigner } from '@aws-sdk/s3-request-presigner'
import { bucketEndpointFromPresignedUrl, PLAIN_KEY } from '../../../shared/storage/s3-bucket-endpoint.ts'

export type PresignPutInput = {
  objectKey: string
  contentType: string
  expiresInSeconds: number
  signingDate: Date
  /** When given, `content-length` is signed too: storage refuses a body of any other size. */
  contentLength?: number
}
/**
 * A presigned PUT URL with `content-type` and `if-none-match: *` (and `content-length` when
 * given) signed in (X-Amz-SignedHeaders):
 * storage refuses another Content-Type, and refuses to overwrite an object that exists, so a
 * URL that is still valid cannot replace bytes the processor has already approved.
 */
export type PresignPut = (input: PresignPutInput) => Promise<string>

const SIGNED_HEADERS = new Set(['content-type', 'if-none-match', 'content-length'])

type Template = { presigner: S3RequestPresigner; protocol: string; hostname: string; port: number | undefined; pathPrefix: string }

/**
 * Presigns PUTs with the SDK's own SigV4 presigner, reused. `getSignedUrl` rebuilds a
 * presigner per call (losing its derived signing-key cache), clones the client's middleware
 * stack and evaluates the endpoint ruleset, all for a URL that only differs by key: profiled
 * under load that made it most of the presign endpoint's own CPU, about 4x the signature
 * itself. So the first URL comes from getSignedUrl, and what it resolved (endpoint, path
 * style, signing region) is reused with one S3RequestPresigner; the output is identical
 * (proved in the spec). Anything unusual (odd key characters, another signing algorithm or
 * query parameters we do not know) keeps using getSignedUrl.
 */
export function createS3UploadPresigner(deps: { client: S3Client; bucket: string }): PresignPut {
  const { client, bucket } = deps
  const viaSdk: PresignPut = (input) =>
    getSignedUrl(
      client,
      new PutObjectCommand({
        Bucket: bucket,
        Key: input.objectKey,
        ContentType: input.contentType,
        IfNoneMatch: '*',
        ContentLength: input.contentLength,
      }),
      {
        expiresIn: input.expiresInSeconds,
        signingDate: input.signingDate,
        signableHeaders: SIGNED_HEADERS,
      },
    )
  let template: Template | null | undefined

  return async (input) => {
    if (template === null || !PLAIN_KEY.test(input.objectKey)) return viaSdk(input)
    if (template === undefined) {
      const url = await viaSdk(input)
      template ??= learnTemplate(client, url, input.objectKey)
      return url
    }
    const { presigner, protocol, hostname, port } = template
    const signed = await presigner.presign(
      {
        method: 'PUT',
        protocol,
        hostname,
        port,
        path: template.pathPrefix + input.objectKey,
        query: { 'x-id': 'PutObject' },
        headers: {
          host: port === undefined ? hostname : `${hostname}:${port}`,
          'content-type': input.contentType,
          'if-none-match': '*',
          ...(input.contentLength === undefined ? {} : { 'content-length': String(input.contentLength) }),
        },
      },
      { expiresIn: input.expiresInSeconds, signingDate: input.signingDate, signableHeaders: SIGNED_HEADERS },
    )
    return formatUrl(signed.protocol, signed.headers.host ?? hostname, signed.path, signed.query ?? {})
  }
}

/** What the SDK resolved for this bucket, read back from a URL it made; null = keep using it. */
function learnTemplate(client: S3Client, presignedUrl: string, objectKey: string): Template | null {
  const endpoint = bucketEndpointFromPresignedUrl(presignedUrl, objectKey)
  if (endpoint === null) return null
  const { region, service, ...where } = endpoint
  const presigner = new S3RequestPresigner({ ...client.config, signingName: service, region: async () => region })
  return { presigner, ...where }
}

/** As the SDK's formatUrl: sorted query, RFC 3986 escaping. */
function formatUrl(protocol: string, host: string, path: string, query: Record<string, string | string[] | null>): string {
  const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  const pairs = Object.keys(query)
    .sort()
    .flatMap((key) => {
      const value = query[key]
      if (value === null || value === undefined) return [rfc3986(key)]
      return (Array.isArray(value) ? value : [value]).map((v) => `${rfc3986(key)}=${rfc3986(v)}`)
    })
  return `${protocol}//${host}${path}${pairs.length > 0 ? `?${pairs.join('&')}` : ''}`
}
