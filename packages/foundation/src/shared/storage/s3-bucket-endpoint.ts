/**
 * Where the SDK sends requests for one bucket, read back from a URL it presigned: the
 * endpoint ruleset (virtual-hosted or path style, FIPS, dual-stack, a custom endpoint) is
 * evaluated once by the SDK itself, and what it resolved is reused for every key.
 */
export type BucketEndpoint = {
  protocol: string
  hostname: string
  port: number | undefined
  /** The path before the object key: `/` (virtual-hosted) or `/{bucket}/` (path style). */
  pathPrefix: string
  /** The signing scope's region and service. */
  region: string
  service: string
}

const EXPECTED_QUERY = [
  'X-Amz-Algorithm',
  'X-Amz-Content-Sha256',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-Signature',
  'X-Amz-SignedHeaders',
  'x-id',
].sort()

/**
 * Reads the endpoint from a SigV4 URL that the SDK presigned for `objectKey`; null when the
 * URL has anything we do not know (another algorithm, extra query parameters, credentials in
 * the URL, a key it encoded): then the caller keeps using the SDK.
 */
export function bucketEndpointFromPresignedUrl(presignedUrl: string, objectKey: string): BucketEndpoint | null {
  const url = new URL(presignedUrl)
  const names = [...url.searchParams.keys()].sort()
  const scope = url.searchParams.get('X-Amz-Credential')?.split('/') ?? []
  const [region, service] = [scope[2], scope[3]]
  const known = names.length === EXPECTED_QUERY.length && names.every((n, i) => n === EXPECTED_QUERY[i])
  if (!known || url.searchParams.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' || !region || !service) return null
  if (!url.pathname.endsWith(`/${objectKey}`) || url.username || url.password) return null
  return {
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    pathPrefix: url.pathname.slice(0, -objectKey.length),
    region,
    service,
  }
}

/** Keys made only of characters that S3 path encoding leaves as they are (ours: uploads/{ulid}). */
export const PLAIN_KEY = /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/
