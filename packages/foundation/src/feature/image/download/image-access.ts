import type { ImageId } from '../../../shared/image/image.ts'

/** A short-lived way to read one ready image. */
export type ImageAccess = {
  imageId: ImageId
  downloadUrl: string
  expiresAt: Date
}

/** Outcome of a batch: signed ready images, and every other requested id (missing or not ready). */
export type ImageAccessBatch = {
  items: ImageAccess[]
  notFound: ImageId[]
}
