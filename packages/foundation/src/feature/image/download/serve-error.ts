import { AppError } from '../../../common/errors.ts'

export type ServeErrorCode = 'EMPTY_ID_LIST' | 'TOO_MANY_IDS'

/** Why a batch of download URLs was refused as asked. A single image that cannot be signed is ImageNotFoundError. */
export class ServeError extends AppError {
  declare readonly code: ServeErrorCode

  static emptyIdList(): ServeError {
    return new ServeError('invalid', 'EMPTY_ID_LIST', 'image_ids must contain at least one id')
  }

  static tooManyIds(count: number, max: number): ServeError {
    return new ServeError('invalid', 'TOO_MANY_IDS', `image_ids may contain at most ${max} ids; got ${count}`)
  }

  private constructor(kind: 'invalid', code: ServeErrorCode, message: string) {
    super(kind, code, message)
  }
}
