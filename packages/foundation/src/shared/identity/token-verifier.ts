import { createHash } from 'node:crypto'
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose'
import { LRUCache } from 'lru-cache'
import { AuthenticationError } from './authentication-error.ts'

/** A token bigger than this is refused before any parsing (DESIGN: at most 15 KB). */
export const MAX_TOKEN_BYTES = 15 * 1024

/** The asymmetric algorithms a JWKS issuer may use; HS256 only for a shared-secret issuer. */
export const JWKS_ALGORITHMS = ['EdDSA', 'ES256', 'RS256'] as const

export type TrustedIssuer = {
  issuer: string
  audience: string
} & ({ jwksUrl: string; secret?: undefined } | { secret: string; jwksUrl?: undefined })

/** What a verified JWT says about its bearer. */
export type VerifiedToken = {
  issuer: string
  subject: string
  scopes: readonly string[]
  /** `images:admin` in `scope`, or `admin` in a `roles` array. */
  admin: boolean
  email: string | undefined
  /** Seconds since the epoch. */
  expiresAt: number
}

export type TokenVerifier = (token: string) => Promise<VerifiedToken>

export type TokenVerifierOptions = {
  issuers: readonly TrustedIssuer[]
  clockToleranceSeconds?: number
  /** Verified tokens kept, each until its `exp`. */
  cacheSize?: number
  /** Least time between two JWKS fetches for unknown `kid`s (jose's default is 30 s). */
  jwksCooldownMs?: number
  now?: () => number
}

/**
 * Verifies bearer JWTs against the trusted issuers with jose: the token's `iss` picks the
 * key set; the algorithm is pinned per issuer (so `alg: none` and HS256-signed-with-the-
 * public-key are refused); `exp` and `sub` are required; `iss` and `aud` must match.
 *
 * A verified token is cached by its SHA-256 until `exp`, so a client reusing its token pays
 * one signature check, not one per request. A remote JWKS is cached by jose and refetched
 * when a token names a `kid` it does not know: a rotation at the provider needs no restart.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const now = options.now ?? Date.now
  const clockTolerance = options.clockToleranceSeconds ?? 30
  const keySets = new Map(
    options.issuers.map((trusted) => [trusted.issuer, { trusted, ...keysOf(trusted, options.jwksCooldownMs) }] as const),
  )
  const cache = new LRUCache<string, VerifiedToken>({ max: options.cacheSize ?? 10_000 })

  return async (token) => {
    if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) throw new AuthenticationError(`token is over ${MAX_TOKEN_BYTES} bytes`)
    const cacheKey = createHash('sha256').update(token).digest('base64url')
    const cached = cache.get(cacheKey)
    if (cached !== undefined && cached.expiresAt * 1000 + clockTolerance * 1000 > now()) return cached

    const issuer = unverifiedIssuer(token)
    const keySet = issuer === undefined ? undefined : keySets.get(issuer)
    if (keySet === undefined) throw new AuthenticationError('token is not from a trusted issuer')
    let payload: JWTPayload
    try {
      ;({ payload } = await jwtVerify(token, keySet.key, {
        issuer: keySet.trusted.issuer,
        audience: keySet.trusted.audience,
        algorithms: keySet.algorithms,
        requiredClaims: ['exp', 'sub'],
        clockTolerance,
        currentDate: new Date(now()),
      }))
    } catch (error) {
      throw new AuthenticationError(`token refused: ${reasonOf(error)}`, { cause: error })
    }
    const verified = toVerifiedToken(payload)
    cache.set(cacheKey, verified)
    return verified
  }
}

function keysOf(trusted: TrustedIssuer, cooldownDuration: number | undefined): { key: JWTVerifyGetKey | Uint8Array; algorithms: string[] } {
  if (trusted.secret !== undefined) return { key: new TextEncoder().encode(trusted.secret), algorithms: ['HS256'] }
  const jwks = createRemoteJWKSet(new URL(trusted.jwksUrl), {
    timeoutDuration: 5000,
    ...(cooldownDuration === undefined ? {} : { cooldownDuration }),
  })
  return { key: jwks, algorithms: [...JWKS_ALGORITHMS] }
}

/** `iss` read before verification, only to choose which keys verify it. */
function unverifiedIssuer(token: string): string | undefined {
  try {
    decodeProtectedHeader(token)
    const { iss } = decodeJwt(token)
    return typeof iss === 'string' ? iss : undefined
  } catch {
    throw new AuthenticationError('token is not a JWT')
  }
}

function toVerifiedToken(payload: JWTPayload): VerifiedToken {
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter((s) => s.length > 0) : []
  const roles = Array.isArray(payload.roles) ? payload.roles : []
  return {
    issuer: payload.iss as string,
    subject: payload.sub as string,
    scopes,
    admin: scopes.includes('images:admin') || roles.includes('admin'),
    email: typeof payload.email === 'string' ? payload.email : undefined,
    expiresAt: payload.exp as number,
  }
}

/** jose's error code and message (never the token). */
function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message
  }
  return 'unknown error'
}
