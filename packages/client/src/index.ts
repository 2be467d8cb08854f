export { type Credential, createImageServiceClient, type ImageServiceClient } from './client.ts'
export { ImageFailedError, ImageServiceError, JobFailedError, unwrap } from './errors.ts'
export type { WaitOptions } from './follow.ts'
export { startWorkflow, waitForJob } from './processing.ts'
export type { components, paths } from './schema.ts'
export { readSse, type SseMessage } from './sse.ts'
export type { Image, ImageServiceEvent, Job } from './types.ts'
export { DEFAULT_MULTIPART_THRESHOLD_BYTES, putImage, type UploadImageRequest, uploadImage } from './upload-image.ts'
export {
  imageIdOfUppyKey,
  type UppyPresignedResponse,
  type UppySignableRequest,
  type UppySignRequestOptions,
  uppySignRequest,
} from './uppy.ts'
export { waitForImage } from './wait-for-image.ts'
