export type { ObjectMetadata, ValidationStorage } from './validation-storage.ts'
export * from './validate-image.ts'
export { createS3ValidationStorage } from './s3-validation-storage.ts'
export { HEAD_BYTES, type Inspection, inspectContent, inspectHead } from './image-inspection.ts'
