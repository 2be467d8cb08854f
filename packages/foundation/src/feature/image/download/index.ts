export type { ImageCdn, SignedDownload } from './image-cdn.ts'
export type { DownloadOptions, ImageAccess, ImageAccessBatch } from './image-access.ts'
export {
  AUTO_FORMAT,
  DOWNLOAD_FORMATS,
  type DownloadFormat,
  type DownloadRequest,
  type DownloadSelection,
  ORIGINAL_VARIANT,
  type OriginalFormat,
  parseDownloadRequest,
  type RequestedFormat,
  selectDownload,
  VariantNotFoundError,
} from './download-selection.ts'
export { NEGOTIATION_FALLBACK, NEGOTIATION_PREFERENCE, negotiateVariantFormat, parseAccept } from './accept-negotiation.ts'
export { ServeError, type ServeErrorCode } from './serve-error.ts'
export { createGetImageDownloadSignedUrl, type GetImageDownloadSignedUrl } from './get-image-download-signed-url.ts'
export {
  createGetImageDownloadSignedUrls,
  type GetImageDownloadSignedUrls,
  MAX_IDS_PER_BATCH,
} from './get-image-download-signed-urls.ts'
export { alignedExpiry, type DownloadUrlSigner, type ExpiryPolicy, withAlignedExpiryCache } from './aligned-expiry-cache.ts'
export {
  cannedPolicy,
  type CloudFrontSigningKey,
  createCloudFrontImageCdn,
  createCloudFrontUrlSigner,
} from './cloudfront-image-cdn.ts'
export { createS3PresignedImageCdn, createS3PresignedUrlSigner, MAX_PRESIGN_SECONDS } from './s3-presigned-image-cdn.ts'
export { createImageCdn } from './create-image-cdn.ts'
