/// <reference path="./s3rver.d.ts" />
import v4 from '@20minutes/s3rver/lib/signature/v4.js'

let currentPath: (() => string | undefined) | undefined

/**
 * SigV4's canonical URI is the request's path as sent, and S3 does not normalise it: the AWS
 * SDK sends a bucket-level request (ListObjectsV2 path style) to `/bucket/` and signs `/bucket/`.
 * s3rver rebuilds the URI from the routed bucket and key and drops that trailing slash, so it
 * computes over `/bucket` and refuses every such request with SignatureDoesNotMatch. Here the
 * canonical URI of a bucket-only path is the path as sent; every other path (and the query,
 * headers, payload hash and key) is still canonicalised and checked by s3rver as before, and a
 * request to `/bucket/` signed over `/bucket` is refused, as S3 refuses it.
 *
 * s3rver's signature module is process-wide: it is wrapped once, and `requestPath` (the raw
 * path of the request being handled, without the query) is the first one given.
 */
export function signBucketPathAsSent(requestPath: () => string | undefined): void {
  if (currentPath) return
  currentPath = requestPath
  const original = v4.getStringToSign
  v4.getStringToSign = (canonicalRequest, signature) => {
    const path = currentPath?.()
    const bucketOnly = path !== undefined && /^\/[^/]+\/$/.test(path) && path === `${canonicalRequest.uri}/`
    return original(bucketOnly ? { ...canonicalRequest, uri: path } : canonicalRequest, signature)
  }
}
