import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname } from 'node:path'
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose'

export type DevIdentityProviderOptions = {
  host?: string
  port?: number
  /** The `aud` every token carries; the api's AUTH_AUDIENCE. */
  audience: string
  /**
   * Keeps the keys (and issuer) in this file, so tokens stay valid across restarts and
   * `pnpm token` can sign from another process. Written 0600: it holds private keys.
   */
  stateFile?: string
}

/** What stateFile holds; `pnpm token` signs with the last key. */
export type DevIdentityState = { issuer: string; audience: string; keys: { kid: string; privateJwk: JWK; publicJwk: JWK }[] }

export type DevTokenRequest = {
  subject: string
  /** Adds the `images:admin` scope. */
  admin?: boolean
  expiresInSeconds?: number
  email?: string
  /** Extra or overriding claims, for tests of what the api refuses. */
  claims?: Record<string, unknown>
}

export type DevIdentityProvider = {
  /** The `iss` of every token; the api's AUTH_ISSUER. */
  issuer: string
  /** Where the public keys are served; the api's AUTH_JWKS_URL. */
  jwksUrl: string
  audience: string
  /** The `kid` tokens are signed with now. */
  currentKid(): string
  /** A signed EdDSA JWT with `iss`, `aud`, `sub`, `iat`, `exp` (1 hour unless said). */
  token(request: DevTokenRequest): Promise<string>
  /** Exactly these claims, signed with the current key: for tests of tokens a provider should never issue. */
  signClaims(claims: Record<string, unknown>): Promise<string>
  /** A new signing key under a new `kid`; the JWKS lists both, as providers do while rotating. */
  rotateKey(): Promise<string>
  /** How many times the JWKS was fetched. */
  jwksFetches(): number
  stop(): Promise<void>
}

type SigningKey = { kid: string; privateKey: CryptoKey; publicJwk: JWK }

/**
 * The identity provider `pnpm dev` and the tests use: Ed25519 keys, a JWKS served on
 * localhost, and tokens signed like any OAuth provider's access tokens. It is the external
 * issuer in development; production points AUTH_* at Cognito, Auth0, Keycloak, ….
 */
export async function startDevIdentityProvider(options: DevIdentityProviderOptions): Promise<DevIdentityProvider> {
  const host = options.host ?? '127.0.0.1'
  const saved = options.stateFile === undefined ? undefined : await readDevIdentityState(options.stateFile)
  const keys: SigningKey[] = saved === undefined ? [await newSigningKey(1)] : await Promise.all(saved.keys.map(loadSigningKey))
  let fetches = 0

  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
      fetches += 1
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' })
      res.end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }))
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end('{"error":"not_found"}')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}`
  const current = () => keys[keys.length - 1] as SigningKey
  const save = async () => {
    if (options.stateFile === undefined) return
    const state: DevIdentityState = {
      issuer,
      audience: options.audience,
      keys: await Promise.all(keys.map(async (k) => ({ kid: k.kid, privateJwk: await exportJWK(k.privateKey), publicJwk: k.publicJwk }))),
    }
    await mkdir(dirname(options.stateFile), { recursive: true })
    await writeFile(options.stateFile, JSON.stringify(state, null, 2), { mode: 0o600 })
  }
  await save()

  return {
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    audience: options.audience,
    currentKid: () => current().kid,
    token: (request) => signDevToken({ issuer, audience: options.audience, key: current() }, request),
    signClaims(claims) {
      const key = current()
      return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' }).sign(key.privateKey)
    },
    async rotateKey() {
      keys.push(await newSigningKey(keys.length + 1))
      await save()
      return current().kid
    },
    jwksFetches: () => fetches,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}

/** The token a provider with these settings issues (shared by the server and `pnpm token`). */
async function signDevToken(signer: { issuer: string; audience: string; key: SigningKey }, request: DevTokenRequest): Promise<string> {
  const iat = Math.floor(Date.now() / 1000)
  const claims = {
    iss: signer.issuer,
    aud: signer.audience,
    sub: request.subject,
    iat,
    exp: iat + (request.expiresInSeconds ?? 3600),
    ...(request.admin ? { scope: 'images:admin' } : {}),
    ...(request.email === undefined ? {} : { email: request.email }),
    ...request.claims,
  }
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: signer.key.kid, typ: 'JWT' }).sign(signer.key.privateKey)
}

export async function readDevIdentityState(stateFile: string): Promise<DevIdentityState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile, 'utf8')) as DevIdentityState
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** A token signed with a saved provider's newest key, without the provider running. */
export async function signTokenFromState(state: DevIdentityState, request: DevTokenRequest): Promise<string> {
  const last = state.keys[state.keys.length - 1]
  if (last === undefined) throw new Error('the dev identity provider state holds no key')
  return signDevToken({ issuer: state.issuer, audience: state.audience, key: await loadSigningKey(last) }, request)
}

async function loadSigningKey(saved: DevIdentityState['keys'][number]): Promise<SigningKey> {
  const privateKey = (await importJWK(saved.privateJwk, 'EdDSA', { extractable: true })) as CryptoKey
  return { kid: saved.kid, privateKey, publicJwk: saved.publicJwk }
}

async function newSigningKey(n: number): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
  const kid = `dev-${n}-${Date.now().toString(36)}`
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } }
}
