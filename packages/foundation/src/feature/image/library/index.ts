export { type GetImageStatus, getImageStatus } from './get-image-status.ts'
export {
  createListImages,
  DEFAULT_PAGE_SIZE,
  type ImagePage,
  InvalidCursorError,
  type ListImages,
  type ListImagesQuery,
  MAX_PAGE_SIZE,
} from './list-images.ts'
export { createDeleteImage, type DeleteImage, type DeletableStorage } from './delete-image.ts'
export type { CdnInvalidator } from './cdn-invalidator.ts'
export { createCloudFrontCdnInvalidator, createCloudFrontClient, MAX_PATHS_PER_INVALIDATION } from './cloudfront-cdn-invalidator.ts'
export { createBatchingCdnInvalidator, noCdnInvalidator } from './batching-cdn-invalidator.ts'
export { createGetUsage, type GetUsage, type Usage } from './get-usage.ts'
export { type AuditPage, createListAudit, type ListAudit, type ListAuditQuery } from './list-audit.ts'
