import { imageIdOfUppyKey, uppySignRequest } from '@image-service/client'
import AwsS3 from '@uppy/aws-s3'
import Uppy, { type Meta } from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'
import { describeError } from './failure-words.ts'
import type { Session } from './session.ts'

/** What `@uppy/aws-s3` reports in `upload-success`: `key` is `uploads/<image_id>` (uppySignRequest). */
type S3Body = { location?: string; key?: string }

export const ACCEPTED_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/avif', 'image/gif']

export type Uploader = { destroy(): void }

/**
 * The Uppy Dashboard, inline in `target`, with a progress bar per file: each file is presigned
 * by the api with the caller's bearer token (uppySignRequest) and PUT straight to storage in one
 * request (`shouldUseMultipart: false`, see the client's README). Once stored, `onStored` gets
 * the image id; the gallery follows its check from there.
 */
export function mountUploader(
  session: Session,
  target: HTMLElement,
  events: { onStored(imageId: string, fileName: string): void; onFailed(fileName: string, words: string): void },
): Uploader {
  const uppy = new Uppy<Meta, S3Body>({
    autoProceed: true,
    restrictions: { allowedFileTypes: ACCEPTED_TYPES },
  })
    .use(Dashboard, {
      inline: true,
      target,
      height: 300,
      width: '100%',
      proudlyDisplayPoweredByUppy: false,
      showRemoveButtonAfterComplete: true,
      note: 'JPEG, PNG, WebP, AVIF or GIF. Each file is checked by the service after upload.',
    })
    .use(AwsS3, { signRequest: uppySignRequest(session.client), shouldUseMultipart: false })

  uppy.on('upload-success', (file, response) => {
    const imageId = imageIdOfUppyKey(response.body?.key ?? '')
    if (imageId) events.onStored(imageId, file?.name ?? imageId)
  })
  uppy.on('upload-error', (file, error) => {
    events.onFailed(file?.name ?? 'A file', describeError(error).words)
  })
  // Uppy keeps a file of another type out (or one already added) before anything is asked of the api.
  uppy.on('restriction-failed', (file, error) => {
    const wrongType = !ACCEPTED_TYPES.includes(file?.type ?? '')
    const words = wrongType ? 'only JPEG, PNG, WebP, AVIF and GIF images are accepted.' : error.message
    events.onFailed(file?.name ?? 'A file', `Not added: ${words}`)
  })
  return { destroy: () => uppy.destroy() }
}
