import { anonymousActor, type RequestContext } from '@image-service/foundation'
import type { FastifyRequest } from 'fastify'

/** The context every foundation call takes first, built once per request at the edge. */
export function requestContext(request: FastifyRequest): RequestContext {
  return { actor: request.actor ?? anonymousActor, requestId: request.id, clientIp: request.ip }
}
