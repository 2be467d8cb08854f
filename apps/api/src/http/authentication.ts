import { type Actor, AuthenticationError, type Authenticate, type AuthenticateQueryToken } from '@image-service/foundation'
import type { FastifyBaseLogger, FastifyRequest, FastifyTypeProvider } from 'fastify'
import type { AnyFastifyInstance } from './fastify-instance.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `none` opens an `/api/image/*` route to callers without a credential (the fal webhook). */
    auth?: 'required' | 'none'
    /**
     * The route also takes the credential as `?access_token=` when no Authorization header is
     * sent (the event stream: EventSource cannot send headers). Only a short-lived JWT.
     */
    accessTokenQuery?: boolean
  }
  interface FastifyRequest {
    /** Who is asking: set by the authentication hook before any handler runs; null on open routes. */
    actor: Actor | null
  }
}

/** Every route under this prefix needs a credential unless it says `config: { auth: 'none' }`. */
const AUTHENTICATED_PREFIX = '/api/image/'
const BEARER = /^Bearer ([!-~]+)$/

/** DESIGN: every 401 carries this challenge, whatever was wrong with the credential. */
export const WWW_AUTHENTICATE = 'Bearer error="invalid_token"'

export function needsCredential(request: FastifyRequest): boolean {
  const route = request.routeOptions.url
  return route?.startsWith(AUTHENTICATED_PREFIX) === true && request.routeOptions.config.auth !== 'none'
}

/**
 * Authentication in one place: an onRequest hook, so it runs before body parsing and
 * validation, and an unauthenticated caller learns nothing about a route's input rules.
 * Routes declare what they need; the hook decides.
 */
export function registerAuthentication<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: AnyFastifyInstance<L, P>,
  authenticate: Authenticate,
  authenticateQueryToken?: AuthenticateQueryToken,
): void {
  app.decorateRequest('actor', null)
  app.addHook('onRequest', async (request) => {
    if (!needsCredential(request)) return
    const header = request.headers.authorization
    const queryToken = (request.query as { access_token?: unknown } | undefined)?.access_token
    if (header === undefined && request.routeOptions.config.accessTokenQuery === true && authenticateQueryToken !== undefined) {
      if (typeof queryToken !== 'string') throw new AuthenticationError('no Authorization header and no access_token')
      request.actor = await authenticateQueryToken(queryToken)
      return
    }
    if (header === undefined) throw new AuthenticationError('no Authorization header')
    const credential = BEARER.exec(header)?.[1]
    if (credential === undefined) throw new AuthenticationError('Authorization is not a Bearer credential')
    request.actor = await authenticate(credential)
  })
}
