import { AppError } from '../../../common/errors.ts'

export type MultipartErrorCode = 'INVALID_PARTS' | 'NOT_MULTIPART' | 'UPLOAD_FINISHED' | 'UPLOAD_NOT_FOUND'

const kindOf = { INVALID_PARTS: 'invalid', NOT_MULTIPART: 'conflict', UPLOAD_FINISHED: 'conflict', UPLOAD_NOT_FOUND: 'conflict' } as const

/**
 * A multipart or confirm request that does not fit the upload's state: a part list that does
 * not match what storage holds (INVALID_PARTS), an image that was not uploaded in parts
 * (NOT_MULTIPART), an upload already completed or aborted (UPLOAD_FINISHED), or no object yet
 * to confirm (UPLOAD_NOT_FOUND).
 */
export class MultipartError extends AppError {
  declare readonly code: MultipartErrorCode

  constructor(code: MultipartErrorCode, message: string) {
    super(kindOf[code], code, message)
  }
}

/** Storage refused to assemble a part list (S3's InvalidPart, InvalidPartOrder, EntityTooSmall, NoSuchUpload). */
export class MultipartRefusedError extends AppError {
  readonly storageCode: string

  constructor(storageCode: string, message: string) {
    super('invalid', 'INVALID_PARTS', `storage refused the part list (${storageCode}): ${message}`)
    this.storageCode = storageCode
  }
}
