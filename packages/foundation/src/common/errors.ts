/**
 * What kind of failure an error is, in domain terms. The API edge maps kinds to HTTP
 * statuses in one place; the processor maps them to outcomes. Foundation knows nothing of HTTP.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  /** A per-owner cap (not a rate limit) is reached: the caller may try again later. */
  | 'limited'
  | 'unavailable'
  | 'internal'

/** Base of every error the project raises on purpose: a stable `code` clients can rely on. */
export class AppError extends Error {
  readonly code: string
  readonly kind: ErrorKind

  constructor(kind: ErrorKind, code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.kind = kind
    this.code = code
    this.name = new.target.name
  }
}

/** A dependency (database, object storage, queue) did not answer; the caller may retry. */
export class DependencyUnavailableError extends AppError {
  constructor(code: 'DATABASE_UNAVAILABLE' | 'STORAGE_UNAVAILABLE' | 'QUEUE_UNAVAILABLE', message: string, options?: ErrorOptions) {
    super('unavailable', code, message, options)
  }
}

/**
 * A transaction's COMMIT was sent but not acknowledged within the deadline: it may or may
 * not have taken effect. The caller must read the state before retrying a non-idempotent step.
 */
export class DatabaseOutcomeUnknownError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super('unavailable', 'DATABASE_OUTCOME_UNKNOWN', message, options)
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError
}
