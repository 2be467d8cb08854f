import { accountTables, type DrizzleDatabase, type TrustedIssuer } from '@image-service/foundation'
import { drizzleAdapter } from 'better-auth/adapters/drizzle'
import { betterAuth } from 'better-auth/minimal'
import { bearer, jwt } from 'better-auth/plugins'
import { type AccountsLog, betterAuthLogger } from './better-auth-logging.ts'

export const ACCOUNTS_BASE_PATH = '/api/auth'
/** DESIGN: passwords of at least 12 characters. Better Auth's upper bound (128) stays. */
export const MIN_PASSWORD_LENGTH = 12
/** The lifetime of a JWT from GET /api/auth/token. */
export const ACCOUNT_TOKEN_LIFETIME = '15m'
const MIN_SECRET_BYTES = 32
/** Better Auth reads the client IP from this header only; the HTTP edge sets it from request.ip. */
export const CLIENT_IP_HEADER = 'x-image-service-client-ip'

export type Accounts = {
  /** Better Auth; the HTTP edge needs only its Fetch handler. */
  auth: { handler: (request: Request) => Promise<Response> }
  /** The origin of AUTH_ACCOUNTS_BASE_URL; also the `iss` of issued JWTs. */
  baseUrl: string
  issuer: string
  audience: string
  /** `${baseUrl}/api/auth/jwks`: where the api's token verifier fetches the signing keys. */
  jwksUrl: string
  /** For createTokenVerifier's issuers, next to any external identity provider. */
  trustedIssuer: TrustedIssuer
}

export type AccountsOptions = {
  db: DrizzleDatabase
  /** AUTH_ACCOUNTS_SECRET: signs session tokens, encrypts the stored signing keys. */
  secret: string
  /** AUTH_ACCOUNTS_BASE_URL: the public origin the api is reached at, e.g. https://images.example.com. */
  baseUrl: string
  /** The `aud` of issued JWTs: the api's AUTH_AUDIENCE when set, else the base URL. */
  audience?: string
  /**
   * Browser origins besides the base URL that may sign up, sign in or use a session cookie
   * (the api's CORS origins; `*` allows any). Requests without Origin or Fetch Metadata
   * headers, such as curl's, are not origin-checked.
   */
  trustedOrigins?: readonly string[]
  logger: AccountsLog
}

/**
 * Built-in accounts: Better Auth with email and password on our PostgreSQL, the bearer
 * plugin (the session token travels in Authorization, no cookie jar needed) and the jwt
 * plugin, whose 15-minute tokens carry `sub` and `email` only. Its tokens are verified by
 * the api like any other issuer's, through `trustedIssuer`.
 */
export function createAccounts(options: AccountsOptions): Accounts {
  if (Buffer.byteLength(options.secret) < MIN_SECRET_BYTES)
    throw new Error(`the accounts secret must be at least ${MIN_SECRET_BYTES} bytes`)
  const baseUrl = new URL(options.baseUrl).origin
  const issuer = baseUrl
  const audience = options.audience ?? baseUrl
  const jwksUrl = `${baseUrl}${ACCOUNTS_BASE_PATH}/jwks`

  const auth = betterAuth({
    appName: 'image-service',
    baseURL: baseUrl,
    basePath: ACCOUNTS_BASE_PATH,
    secret: options.secret,
    trustedOrigins: [...(options.trustedOrigins ?? [])],
    // Sign-up writes a user and its password account: one transaction, so no half-made user.
    database: drizzleAdapter(options.db, { provider: 'pg', schema: accountTables, transaction: true }),
    emailAndPassword: { enabled: true, minPasswordLength: MIN_PASSWORD_LENGTH },
    plugins: [
      bearer(),
      jwt({
        jwt: {
          issuer,
          audience,
          expirationTime: ACCOUNT_TOKEN_LIFETIME,
          // The whole user object is the plugin's default; the api needs the owner id only.
          definePayload: ({ user }) => ({ email: user.email }),
        },
      }),
    ],
    rateLimit: {
      // On in every environment (Better Auth's default is production only), in memory per replica.
      enabled: true,
      // Password guessing and sign-up floods: 10 a minute per client IP and path.
      customRules: {
        '/sign-in/*': { window: 60, max: 10 },
        '/sign-up/*': { window: 60, max: 10 },
      },
    },
    advanced: {
      ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] },
      // A browser's POST (Origin, Fetch Metadata or a cookie) must come from the base URL or a
      // trusted origin. Better Auth skips this check when NODE_ENV is test; pinned on so the
      // tests see what production does.
      disableOriginCheck: false,
    },
    telemetry: { enabled: false },
    logger: betterAuthLogger(options.logger),
    // A failure (not a refusal) is thrown to the HTTP edge instead of being printed to stderr
    // with the failed query and its parameters (session tokens, password hashes).
    onAPIError: { throw: true },
  })

  return { auth, baseUrl, issuer, audience, jwksUrl, trustedIssuer: { issuer, audience, jwksUrl } }
}
