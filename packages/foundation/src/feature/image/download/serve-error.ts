import { AppError } from '../../../common/errors.ts'

export type ServeErrorCode = 'IMAGE_NOT_FOUND' | 'EMPTY_ID_LIST' | 'TOO_MANY_IDS'

/**
 * Why a download URL was refused. A pending or failed image is reported exactly like a
 * missing one, so callers cannot probe which ids exist or what the processor decided.
 */
export class ServeError extends AppError {
  declare readonly code: ServeErrorCode

  static notFound(imageId: string): ServeError {
    return new ServeError('not_found', 'IMAGE_NOT_FOUND', `image ${imageId} does not exist or is not ready`)
  }

  static emptyIdList(): ServeError {
    return new ServeError('invalid', 'EMPTY_ID_LIST', 'image_ids must contain at least one id')
  }

  static tooManyIds(count: number, max: number): ServeError {
    return new ServeError('invalid', 'TOO_MANY_IDS', `image_ids may contain at most ${max} ids; got ${count}`)
  }

  private constructor(kind: 'not_found' | 'invalid', code: ServeErrorCode, message: string) {
    super(kind, code, message)
  }
}
