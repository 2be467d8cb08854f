import { AppError } from '../../../common/errors.ts'

export type UploadErrorCode = 'INVALID_CONTENT_TYPE' | 'INVALID_FILE_NAME' | 'INVALID_SIZE_BYTES' | 'FILE_TOO_LARGE'

/** A create-presigned-url request the upload rules refuse; the client must change its input. */
export class UploadError extends AppError {
  declare readonly code: UploadErrorCode

  constructor(code: UploadErrorCode, message: string) {
    super('invalid', code, message)
  }
}
