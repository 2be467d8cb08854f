import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyBaseLogger, FastifyTypeProvider } from 'fastify'
import type { AnyFastifyInstance } from './fastify-instance.ts'

export const REQUEST_ID_HEADER = 'x-request-id'

// An incoming id is echoed into headers and every log line of the request, so only a short
// token of safe characters is trusted: anything else (CR/LF, quotes, megabytes) is replaced.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The caller's id when it is sane (a proxy's or a client's trace id), else a fresh UUID. */
export function requestIdOf(request: Pick<IncomingMessage, 'headers'>): string {
  const incoming = request.headers[REQUEST_ID_HEADER]
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

/**
 * Fastify constructor options. `requestIdHeader: false` because Fastify would otherwise
 * take the header verbatim, unchecked; genReqId reads and vets it instead.
 */
export const requestIdServerOptions = {
  genReqId: requestIdOf,
  requestIdHeader: false,
} as const

/** Echoes the id on every response, errors and CORS preflights included. */
export function registerRequestIdHeader<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(app: AnyFastifyInstance<L, P>): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id)
  })
}
