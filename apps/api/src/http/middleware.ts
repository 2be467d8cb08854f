import type { FastifyBaseLogger, FastifyTypeProvider } from 'fastify'
import type { AnyFastifyInstance } from './fastify-instance.ts'
import { registerCors } from './cors.ts'
import { registerRequestIdHeader } from './request-id.ts'
import { registerRequestLog } from './request-log.ts'
import { registerSecurityHeaders, type SecurityHeaderOptions } from './security-headers.ts'

export { requestIdServerOptions } from './request-id.ts'

/**
 * Cross-cutting HTTP behaviour, registered on the root instance before any route so its
 * hooks apply everywhere (404s and errors included). Needs `requestIdServerOptions` and
 * requestLogController() in the Fastify constructor options.
 */
export async function registerHttpMiddleware<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: AnyFastifyInstance<L, P>,
  options: { corsOrigins: readonly string[] } & SecurityHeaderOptions,
): Promise<void> {
  registerRequestIdHeader(app)
  registerSecurityHeaders(app, options)
  registerRequestLog(app)
  await registerCors(app, options.corsOrigins)
}
