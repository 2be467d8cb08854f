import type { UserActor } from '../../shared/identity/request-context.ts'
import type { TokenVerifier } from '../../shared/identity/token-verifier.ts'
import type { ApiKeyCommands } from './api-keys/api-key-commands.ts'
import { looksLikeApiKey } from './api-keys/api-key.ts'

/** A bearer credential -> the owner it acts for; AuthenticationError for anything else. */
export type Authenticate = (credential: string) => Promise<UserActor>

/**
 * `isk_…` is an API key and is never tried as a JWT; anything else must be a JWT of a
 * trusted issuer. The owner is the token's `sub`, or the key's owner.
 */
export function createAuthenticate(deps: {
  verifyToken: TokenVerifier
  apiKeys: Pick<ApiKeyCommands, 'authenticateApiKey'>
}): Authenticate {
  return async (credential) => {
    if (looksLikeApiKey(credential)) return deps.apiKeys.authenticateApiKey(credential)
    const token = await deps.verifyToken(credential)
    return { type: 'user', ownerId: token.subject, admin: token.admin, via: 'jwt' }
  }
}
