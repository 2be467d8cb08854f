import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { createTestDatabase, findFreePort, type TestDatabase } from '@image-service/devstack'
import {
  createApiKeyCommands,
  createAuthenticate,
  createDatabase,
  createTokenVerifier,
  type Database,
  REDACT_PATHS,
} from '@image-service/foundation'
import { InMemoryApiKeyRepository } from '@image-service/foundation/testing'
import Fastify, { type FastifyInstance } from 'fastify'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { registerAuthentication } from '../http/authentication.ts'
import { registerCors } from '../http/cors.ts'
import { registerErrorHandling } from '../http/errors.ts'
import { requestContext } from '../http/request-context.ts'
import { registerRequestLog, requestLogController } from '../http/request-log.ts'
import { accountsRoutes } from './accounts-routes.ts'
import { type Accounts, createAccounts } from './create-accounts.ts'

const SECRET = randomBytes(32).toString('base64url')
const PASSWORD = 'correct horse battery'
const TRUSTED_ORIGIN = 'https://app.images.test'

describe('built-in accounts at /api/auth/*', () => {
  let testDatabase: TestDatabase
  let database: Database
  let accounts: Accounts
  let app: FastifyInstance
  let baseUrl: string
  const logLines: string[] = []
  let nextIp = 1
  // Better Auth limits sign-in and sign-up per client IP: each test speaks from its own.
  const newClientIp = () => `203.0.113.${nextIp++}`

  beforeAll(async () => {
    testDatabase = await createTestDatabase(inject('databaseServerUrl'))
    database = createDatabase({ url: testDatabase.url, poolMax: 4 })
    const port = await findFreePort()
    baseUrl = `http://127.0.0.1:${port}`
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString())
        done()
      },
    })
    app = Fastify({
      logger: { level: 'debug', stream, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
      logController: requestLogController(),
      trustProxy: true,
    })
    accounts = createAccounts({
      db: database.db,
      secret: SECRET,
      baseUrl,
      audience: 'https://images.test',
      trustedOrigins: [TRUSTED_ORIGIN],
      logger: app.log,
    })
    registerErrorHandling(app)
    registerRequestLog(app)
    await registerCors(app, [TRUSTED_ORIGIN])
    registerAuthentication(
      app,
      createAuthenticate({
        verifyToken: createTokenVerifier({ issuers: [accounts.trustedIssuer] }),
        apiKeys: createApiKeyCommands({ keys: new InMemoryApiKeyRepository() }),
      }),
    )
    app.get('/api/image/v1/whoami', async (request) => requestContext(request).actor)
    await app.register(accountsRoutes, { accounts })
    await app.listen({ host: '127.0.0.1', port })
  })
  afterAll(async () => {
    await app?.close()
    await database?.close()
    await testDatabase?.drop()
  })

  // Node's fetch sends Fetch Metadata (sec-fetch-mode) like a browser, so it says where it is from.
  const call = (method: 'GET' | 'POST', path: string, init: { body?: unknown; headers?: Record<string, string>; ip?: string } = {}) =>
    fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        origin: baseUrl,
        'x-forwarded-for': init.ip ?? newClientIp(),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    })
  const signUp = (email: string, password = PASSWORD, ip?: string) =>
    call('POST', '/api/auth/sign-up/email', { body: { name: 'Ada', email, password }, ip })
  const signIn = (email: string, password = PASSWORD, ip?: string) =>
    call('POST', '/api/auth/sign-in/email', { body: { email, password }, ip })
  const tokenFor = async (sessionToken: string) => {
    const response = await call('GET', '/api/auth/token', { headers: { authorization: `Bearer ${sessionToken}` } })
    expect(response.status).toBe(200)
    return ((await response.json()) as { token: string }).token
  }
  const newEmail = () => `user-${randomBytes(4).toString('hex')}@example.test`
  const expectRefusal = async (response: Response, statusCode: number, code: string) => {
    expect(response.status).toBe(statusCode)
    expect(await response.json()).toEqual({ statusCode, error: expect.any(String), code, message: expect.any(String) })
  }

  /** Signs up and in; the session token comes back in set-auth-token (the bearer plugin). */
  async function newAccount() {
    const email = newEmail()
    const signedUp = await signUp(email)
    expect(signedUp.status).toBe(200)
    const { user } = (await signedUp.json()) as { user: { id: string; email: string } }
    const signedIn = await signIn(email)
    expect(signedIn.status).toBe(200)
    const sessionToken = signedIn.headers.get('set-auth-token')
    expect(sessionToken).toEqual(expect.any(String))
    return { email, user, sessionToken: sessionToken as string }
  }

  it('signs up, signs in and issues a 15-minute EdDSA JWT with sub and email only', async () => {
    const { email, user, sessionToken } = await newAccount()
    expect(user.email).toBe(email)

    const token = await tokenFor(sessionToken)
    const header = decodeProtectedHeader(token)
    const claims = decodeJwt(token)
    expect(header.alg).toBe('EdDSA')
    expect(Object.keys(claims).sort()).toEqual(['aud', 'email', 'exp', 'iat', 'iss', 'sub'])
    expect(claims).toMatchObject({ sub: user.id, email, iss: baseUrl, aud: 'https://images.test' })
    expect((claims.exp as number) - (claims.iat as number)).toBe(15 * 60)

    const jwks = (await (await call('GET', '/api/auth/jwks')).json()) as { keys: { kid: string; alg: string }[] }
    expect(jwks.keys.map((key) => key.kid)).toContain(header.kid)
    expect(JSON.stringify(jwks)).not.toContain('"d"')

    const verified = await createTokenVerifier({ issuers: [accounts.trustedIssuer] })(token)
    expect(verified).toMatchObject({ issuer: baseUrl, subject: user.id, email, admin: false })
  })

  it('lets that JWT through the authentication hook of /api/image/* as its owner', async () => {
    const { user, sessionToken } = await newAccount()
    const token = await tokenFor(sessionToken)
    const response = await call('GET', '/api/image/v1/whoami', { headers: { authorization: `Bearer ${token}` } })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ type: 'user', ownerId: user.id, admin: false, via: 'jwt' })
    // The session token itself is not an image-API credential.
    const bySession = await call('GET', '/api/image/v1/whoami', { headers: { authorization: `Bearer ${sessionToken}` } })
    await expectRefusal(bySession, 401, 'UNAUTHENTICATED')
  })

  it('stores the accounts in our snake_case tables, the password only as a hash', async () => {
    const { user } = await newAccount()
    const rows = await database.sql<{ provider_id: string; password: string; email_verified: boolean }[]>`
      SELECT a.provider_id, a.password, u.email_verified
      FROM auth_accounts a JOIN auth_users u ON u.id = a.user_id WHERE u.id = ${user.id}`
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ provider_id: 'credential', email_verified: false })
    expect(rows[0]?.password).not.toContain(PASSWORD)
    const sessions = await database.sql`SELECT 1 FROM auth_sessions WHERE user_id = ${user.id}`
    expect(sessions.length).toBe(2) // one from sign-up, one from sign-in
  })

  it('answers a wrong password and an unknown email alike: 401 INVALID_EMAIL_OR_PASSWORD', async () => {
    const { email } = await newAccount()
    await expectRefusal(await signIn(email, 'not the password at all'), 401, 'INVALID_EMAIL_OR_PASSWORD')
    await expectRefusal(await signIn(newEmail()), 401, 'INVALID_EMAIL_OR_PASSWORD')
  })

  it('refuses a duplicate email, whatever its case: 422 USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL', async () => {
    const { email } = await newAccount()
    await expectRefusal(await signUp(email), 422, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL')
    await expectRefusal(await signUp(email.toUpperCase()), 422, 'USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL')
  })

  it('refuses an 11-character password (400 PASSWORD_TOO_SHORT) and takes a 12-character one', async () => {
    await expectRefusal(await signUp(newEmail(), 'a'.repeat(11)), 400, 'PASSWORD_TOO_SHORT')
    expect((await signUp(newEmail(), 'a'.repeat(12))).status).toBe(200)
  })

  it('answers bad requests in our shape: no session, a malformed body, an unknown route', async () => {
    const noSession = await call('GET', '/api/auth/token')
    expect(noSession.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
    await expectRefusal(noSession, 401, 'UNAUTHENTICATED')
    await expectRefusal(
      await call('GET', '/api/auth/token', { headers: { authorization: 'Bearer forged.signature' } }),
      401,
      'UNAUTHENTICATED',
    )
    const malformed = await fetch(`${baseUrl}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: baseUrl },
      body: '{"email":',
    })
    expect(malformed.status).toBe(400)
    expect(await malformed.json()).toMatchObject({ statusCode: 400, code: expect.any(String) })
    const missingEmail = await call('POST', '/api/auth/sign-in/email', { body: { password: PASSWORD } })
    expect(missingEmail.status).toBe(400)
    expect(await missingEmail.json()).toMatchObject({ statusCode: 400, code: expect.stringMatching(/^[A-Z_]+$/) })
    await expectRefusal(await call('GET', '/api/auth/no-such-route'), 404, 'ROUTE_NOT_FOUND')
  })

  it('lets browsers sign in from the base URL and the trusted origins only: 403 INVALID_ORIGIN otherwise', async () => {
    const email = newEmail()
    expect((await signUp(email)).status).toBe(200)
    const fromOrigin = (origin: string) =>
      call('POST', '/api/auth/sign-in/email', { body: { email, password: PASSWORD }, headers: { origin } })
    await expectRefusal(await fromOrigin('https://elsewhere.test'), 403, 'INVALID_ORIGIN')
    const trusted = await fromOrigin(TRUSTED_ORIGIN)
    expect(trusted.status).toBe(200)
    // A cross-origin script may read the session token next to what CORS already exposes.
    const exposed = trusted.headers
      .get('access-control-expose-headers')
      ?.split(',')
      .map((h) => h.trim())
    expect(exposed).toEqual(expect.arrayContaining(['set-auth-token', 'www-authenticate']))
  })

  it('takes a session cookie only from a trusted origin: 403 INVALID_ORIGIN otherwise', async () => {
    const email = newEmail()
    expect((await signUp(email)).status).toBe(200)
    const signedIn = await signIn(email)
    const cookie = signedIn.headers
      .getSetCookie()
      .map((header) => header.split(';')[0])
      .join('; ')
    expect(cookie).toContain('session_token=')
    const signOut = (origin: string) => call('POST', '/api/auth/sign-out', { body: {}, headers: { cookie, origin } })
    await expectRefusal(await signOut('https://elsewhere.test'), 403, 'INVALID_ORIGIN')
    expect((await signOut(baseUrl)).status).toBe(200)
  })

  it('limits sign-in to 10 a minute per client IP, which a client cannot choose itself', async () => {
    const { email } = await newAccount()
    const ip = newClientIp()
    for (let attempt = 1; attempt <= 10; attempt++) {
      // Our own client-IP header is replaced at the edge, so forging it changes nothing.
      const forged = { 'x-image-service-client-ip': `198.51.100.${attempt}` }
      const response = await call('POST', '/api/auth/sign-in/email', { body: { email, password: 'wrong password!' }, ip, headers: forged })
      expect(response.status).toBe(401)
    }
    const limited = await signIn(email, PASSWORD, ip)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    await expectRefusal(limited, 429, 'RATE_LIMITED')
    expect((await signIn(email, PASSWORD, newClientIp())).status).toBe(200)
  })

  it('writes no password, session token, JWT or secret to the log', async () => {
    logLines.length = 0
    const { email, sessionToken } = await newAccount()
    const token = await tokenFor(sessionToken)
    await call('GET', '/api/image/v1/whoami', { headers: { authorization: `Bearer ${token}` } })
    await signIn(email, 'the wrong password')
    await signUp(email)
    await call('GET', '/api/auth/get-session', { headers: { authorization: `Bearer ${sessionToken}` } })
    await call('POST', '/api/auth/sign-out', { headers: { authorization: `Bearer ${sessionToken}` }, body: {} })

    const lines = logLines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(lines.filter((line) => line.msg === 'request completed').length).toBeGreaterThanOrEqual(7)
    expect(lines.find((line) => line.code === 'INVALID_EMAIL_OR_PASSWORD')).toMatchObject({ msg: 'authentication refused', level: 40 })
    const all = logLines.join('\n')
    for (const secret of [PASSWORD, 'the wrong password', SECRET, sessionToken, sessionToken.split('.')[0], token, token.split('.')[2]]) {
      expect(all).not.toContain(secret)
    }
  })

  it('refuses a secret shorter than 32 bytes', () => {
    expect(() => createAccounts({ db: database.db, secret: 'x'.repeat(31), baseUrl, logger: app.log })).toThrow(/32 bytes/)
  })
})
