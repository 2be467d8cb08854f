import { AppError } from '../../common/errors.ts'

/**
 * The credential is missing, malformed, expired, revoked, or not from a trusted issuer. The
 * message says which, for the log; clients all get the same code, so a probe learns nothing.
 */
export class AuthenticationError extends AppError {
  declare readonly code: 'UNAUTHENTICATED'

  constructor(reason: string, options?: ErrorOptions) {
    super('unauthenticated', 'UNAUTHENTICATED', reason, options)
  }
}

/** Authenticated, but the credential does not allow this action. */
export class ForbiddenError extends AppError {
  declare readonly code: 'FORBIDDEN'

  constructor(reason: string) {
    super('forbidden', 'FORBIDDEN', reason)
  }
}
