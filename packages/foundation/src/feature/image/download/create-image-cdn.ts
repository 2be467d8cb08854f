import type { S3Client } from '@aws-sdk/client-s3'
import type { CdnConfig } from '../../../common/config.ts'
import { createCloudFrontImageCdn } from './cloudfront-image-cdn.ts'
import type { ImageCdn } from './image-cdn.ts'
import { createS3PresignedImageCdn } from './s3-presigned-image-cdn.ts'

/** The ImageCdn adapter that config.api.cdn.mode names; the S3 client is used in s3-presigned mode only. */
export function createImageCdn(deps: { config: CdnConfig; s3: { client: S3Client; bucket: string }; now?: () => number }): ImageCdn {
  const clock = deps.now === undefined ? {} : { now: deps.now }
  const { config } = deps
  switch (config.mode) {
    case 'cloudfront':
      return createCloudFrontImageCdn({ ...config, ...clock })
    case 's3-presigned':
      return createS3PresignedImageCdn({ ...config, ...deps.s3, ...clock })
  }
}
