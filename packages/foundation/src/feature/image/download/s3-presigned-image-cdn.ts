import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { type DownloadUrlSigner, type ExpiryPolicy, withAlignedExpiryCache } from './aligned-expiry-cache.ts'
import type { ImageCdn } from './image-cdn.ts'

/** SigV4 presigned URLs cannot live longer than seven days. */
export const MAX_PRESIGN_SECONDS = 604_800

/**
 * Presigns S3 GETs. The signing date is the request's second and X-Amz-Expires reaches
 * exactly the aligned expiry, so the URL dies when `expiresAt` says it does.
 */
export function createS3PresignedUrlSigner(deps: { client: S3Client; bucket: string }): DownloadUrlSigner {
  return {
    async sign(objectKey: string, expiresAt: Date, now: Date): Promise<string> {
      const signingDate = new Date(Math.floor(now.getTime() / 1000) * 1000)
      const expiresIn = Math.round((expiresAt.getTime() - signingDate.getTime()) / 1000)
      return getSignedUrl(deps.client, new GetObjectCommand({ Bucket: deps.bucket, Key: objectKey }), {
        expiresIn,
        signingDate,
      })
    },
  }
}

/** ImageCdn adapter without a CDN: browsers GET straight from the bucket. */
export function createS3PresignedImageCdn(options: { client: S3Client; bucket: string } & ExpiryPolicy & { now?: () => number }): ImageCdn {
  // ceil(now + ttl) rounds up by at most a second, and the window adds at most its length.
  if (options.ttlSeconds + options.windowSeconds + 1 > MAX_PRESIGN_SECONDS) {
    throw new RangeError(
      `s3-presigned download URLs live at most ${MAX_PRESIGN_SECONDS} s; TTL ${options.ttlSeconds} + window ${options.windowSeconds} is too long`,
    )
  }
  return withAlignedExpiryCache(createS3PresignedUrlSigner(options), options)
}
