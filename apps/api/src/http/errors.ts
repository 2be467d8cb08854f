import { STATUS_CODES } from 'node:http'
import { type ErrorKind, isAppError } from '@image-service/foundation'
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyTypeProvider,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify'
import { WWW_AUTHENTICATE } from './authentication.ts'
import type { ErrorResponse } from './schemas.ts'

/**
 * The one place where failures become HTTP answers. Foundation errors carry a kind and a
 * stable code; Fastify's own client errors (validation, malformed or oversized bodies,
 * unsupported media types) keep their status and FST_* code; anything else is a 500 whose
 * details stay in the log. Only 5xx is logged as an error.
 */
const statusOfKind: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  limited: 429,
  unavailable: 503,
  internal: 500,
}
const messageOf5xx: Record<ErrorKind, string> = {
  invalid: '',
  unauthenticated: '',
  forbidden: '',
  not_found: '',
  conflict: '',
  limited: '',
  unavailable: 'a dependency is temporarily unavailable; retry later',
  internal: 'internal error',
}

/**
 * Fields whose schema failure has a domain code: every `:image_id` route answers alike, and a
 * download's `variant` and `format` (query or body) answer as foundation's own check does.
 */
const fieldCodes: Partial<Record<string, Record<string, string>>> = {
  params: { image_id: 'INVALID_IMAGE_ID' },
  querystring: { variant: 'INVALID_VARIANT', format: 'INVALID_FORMAT' },
  body: { variant: 'INVALID_VARIANT', format: 'INVALID_FORMAT' },
}

export function toErrorResponse(error: unknown): ErrorResponse {
  if (isAppError(error)) {
    const status = statusOfKind[error.kind]
    // Dependency messages name hosts and drivers: they go to the log, not to clients.
    return errorBody(status, error.code, status >= 500 ? messageOf5xx[error.kind] : error.message)
  }
  const fastifyError = error as Partial<FastifyError>
  if (fastifyError.validation !== undefined) {
    const codes = fastifyError.validationContext === undefined ? undefined : fieldCodes[fastifyError.validationContext]
    const field = fastifyError.validation[0]?.instancePath.slice(1)
    const code = (field !== undefined ? codes?.[field] : undefined) ?? 'FST_ERR_VALIDATION'
    return errorBody(400, code, fastifyError.message ?? 'invalid request')
  }
  const status = fastifyError.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    return errorBody(status, fastifyError.code ?? 'BAD_REQUEST', fastifyError.message ?? STATUS_CODES[status] ?? '')
  }
  return errorBody(500, 'INTERNAL_ERROR', 'internal error')
}

/** The error shape for a status, with its reason phrase. */
export function errorBody(statusCode: number, code: string, message: string): ErrorResponse {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', code, message }
}

/** A 4xx raised at the HTTP edge itself (no domain error applies); answered by the error handler. */
export function httpError(statusCode: number, code: string, message: string): Error & { statusCode: number; code: string } {
  return Object.assign(new Error(message), { statusCode, code })
}

/** Any root instance, whatever its logger and type provider: only handlers are set. */
export function registerErrorHandling<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, L, P>,
): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const body = toErrorResponse(error)
    if (body.statusCode >= 500) request.log.error({ err: error, code: body.code }, 'request failed')
    else if (body.statusCode === 401) {
      // The audit trace of a refused credential: why (never the credential itself), and from where.
      request.log.warn({ code: body.code, reason: (error as Error).message, ip: request.ip }, 'authentication refused')
      void reply.header('www-authenticate', WWW_AUTHENTICATE)
    } else request.log.info({ code: body.code, statusCode: body.statusCode }, 'request refused')
    return reply.code(body.statusCode).send(body)
  })
  app.setNotFoundHandler((request, reply) => {
    const body = errorBody(404, 'ROUTE_NOT_FOUND', `route ${request.method} ${request.url.split('?')[0] ?? ''} does not exist`)
    return reply.code(404).send(body)
  })
}
