import { AuthenticationError } from '../../shared/identity/authentication-error.ts'
import type { UserActor } from '../../shared/identity/request-context.ts'
import type { TokenVerifier } from '../../shared/identity/token-verifier.ts'
import { looksLikeApiKey } from '../identity/api-keys/api-key.ts'

/**
 * `?access_token=` of the event stream (EventSource cannot send headers). A URL ends up in
 * places a header does not (browser history, proxies' logs), so it takes only a JWT that
 * expires soon: never an API key, which lives for days and cannot be taken back in time.
 */
export function createAuthenticateQueryToken(deps: { verifyToken: TokenVerifier; maxLifetimeSeconds: number; now?: () => number }) {
  const now = deps.now ?? Date.now
  return async (token: string): Promise<UserActor> => {
    if (looksLikeApiKey(token)) throw new AuthenticationError('access_token takes a short-lived JWT, never an API key')
    const verified = await deps.verifyToken(token)
    if (verified.expiresAt - now() / 1000 > deps.maxLifetimeSeconds) {
      throw new AuthenticationError(`access_token must be a JWT that expires within ${deps.maxLifetimeSeconds} s`)
    }
    return { type: 'user', ownerId: verified.subject, admin: verified.admin, via: 'jwt' }
  }
}

export type AuthenticateQueryToken = ReturnType<typeof createAuthenticateQueryToken>
