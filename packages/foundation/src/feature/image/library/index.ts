export { type GetImageStatus, getImageStatus } from './get-image-status.ts'
