import type { ImageId } from '../../../shared/image/image.ts'
import type { DownloadFormat } from './download-selection.ts'

/** A short-lived way to read one ready image: its original or one of its variants. */
export type ImageAccess = {
  imageId: ImageId
  /** `original` or a variant name. */
  variant: string
  format: DownloadFormat
  downloadUrl: string
  expiresAt: Date
  /** The request's Accept chose the format (`format=auto` on a variant): the answer varies with Accept. */
  negotiated: boolean
}

/** Outcome of a batch: signed ready images, and every other requested id (missing, not ready, or without the variant). */
export type ImageAccessBatch = {
  items: ImageAccess[]
  notFound: ImageId[]
}

/** What a download query is asked: `variant` and `format` as sent (absent = original, auto), and the request's Accept header. */
export type DownloadOptions = {
  variant?: string | undefined
  format?: string | undefined
  accept?: string | undefined
}
