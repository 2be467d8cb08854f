import { type FastifyBaseLogger, type FastifyTypeProvider, LogController } from 'fastify'
import type { AnyFastifyInstance } from './fastify-instance.ts'

/**
 * One line per request, written when the response is done. Fastify's own request logging
 * (two lines, "incoming request" and "request completed") is turned off by
 * requestLogController(). The query string is left out: it is not needed to follow
 * a request and may one day carry something that should not sit in logs.
 */
export function registerRequestLog<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(app: AnyFastifyInstance<L, P>): void {
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        path: request.url.split('?')[0],
        route: request.routeOptions.url,
        statusCode: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request completed',
    )
  })
}

/** Fastify's log controller: its own request lines off, request ids logged as `request_id`. */
export function requestLogController(): LogController {
  return new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' })
}
