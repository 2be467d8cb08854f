import { Writable } from 'node:stream'
import { type DevIdentityProvider, startDevIdentityProvider } from '@image-service/devstack'
import { createApiKeyCommands, createAuthenticate, createTokenVerifier, type RequestContext } from '@image-service/foundation'
import { InMemoryApiKeyRepository } from '@image-service/foundation/testing'
import { base64url, SignJWT } from 'jose'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerAuthentication } from './authentication.ts'
import { registerErrorHandling } from './errors.ts'
import { requestContext } from './request-context.ts'
import { requestLogController } from './request-log.ts'

const AUDIENCE = 'https://images.test'

describe('authentication on /api/image/* routes', () => {
  let idp: DevIdentityProvider
  let app: FastifyInstance
  const logLines: string[] = []
  const apiKeys = createApiKeyCommands({ keys: new InMemoryApiKeyRepository() })
  const userCtx = (ownerId: string): RequestContext => ({ actor: { type: 'user', ownerId, admin: false, via: 'jwt' }, requestId: 'spec' })

  beforeAll(async () => {
    idp = await startDevIdentityProvider({ audience: AUDIENCE })
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString())
        done()
      },
    })
    app = Fastify({ logger: { level: 'info', stream }, logController: requestLogController() })
    registerErrorHandling(app)
    registerAuthentication(
      app,
      createAuthenticate({
        verifyToken: createTokenVerifier({ issuers: [{ issuer: idp.issuer, audience: AUDIENCE, jwksUrl: idp.jwksUrl }] }),
        apiKeys,
      }),
    )
    app.get('/api/image/v1/whoami', async (request) => requestContext(request).actor)
    app.post('/api/image/v1/open', { config: { auth: 'none' } }, async (request) => ({ actor: requestContext(request).actor }))
    app.get('/api/health/liveness', async () => ({ ok: true }))
    await app.ready()
  })
  afterAll(async () => {
    await app?.close()
    await idp?.stop()
  })

  const whoami = (authorization?: string) =>
    app.inject({ method: 'GET', url: '/api/image/v1/whoami', headers: authorization === undefined ? {} : { authorization } })
  const expect401 = async (authorization?: string) => {
    const response = await whoami(authorization)
    expect(response.statusCode).toBe(401)
    expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
    expect(response.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized', code: 'UNAUTHENTICATED' })
  }
  const now = () => Math.floor(Date.now() / 1000)
  const registered = () => ({ iss: idp.issuer, aud: AUDIENCE, sub: 'user-a', exp: now() + 600 })

  it('lets a valid token through as its owner', async () => {
    const response = await whoami(`Bearer ${await idp.token({ subject: 'user-a' })}`)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ type: 'user', ownerId: 'user-a', admin: false, via: 'jwt' })
  })

  it('lets an API key through as its owner', async () => {
    const { plaintext } = await apiKeys.createApiKey(userCtx('owner-k'), { name: 'machine' })
    const response = await whoami(`Bearer ${plaintext}`)
    expect(response.json()).toMatchObject({ type: 'user', ownerId: 'owner-k', via: 'api_key' })
  })

  it('answers 401 with WWW-Authenticate to a missing header and to Basic', async () => {
    await expect401()
    await expect401('Basic dXNlcjpwYXNz')
    await expect401('Bearer')
    await expect401('Bearer a b')
  })

  it('answers 401 to garbage, a token signed by another key, alg none and HS256 with the public key', async () => {
    await expect401('Bearer not-a-token')
    const stranger = await startDevIdentityProvider({ audience: AUDIENCE })
    try {
      await expect401(`Bearer ${await stranger.token({ subject: 'user-a', claims: { iss: idp.issuer } })}`)
    } finally {
      await stranger.stop()
    }
    const unsigned = `${base64url.encode('{"alg":"none"}')}.${base64url.encode(JSON.stringify(registered()))}.`
    await expect401(`Bearer ${unsigned}`)
    const jwks = (await (await fetch(idp.jwksUrl)).json()) as { keys: { x: string }[] }
    const confused = await new SignJWT(registered())
      .setProtectedHeader({ alg: 'HS256', kid: idp.currentKid() })
      .sign(new TextEncoder().encode(jwks.keys[0]?.x))
    await expect401(`Bearer ${confused}`)
  })

  it('answers 401 to expired, not-yet-valid, exp-less and sub-less tokens, and to the wrong iss or aud', async () => {
    await expect401(`Bearer ${await idp.token({ subject: 'user-a', claims: { exp: now() - 120 } })}`)
    await expect401(`Bearer ${await idp.token({ subject: 'user-a', claims: { nbf: now() + 600 } })}`)
    const { exp: _exp, ...noExp } = registered()
    const { sub: _sub, ...noSub } = registered()
    await expect401(`Bearer ${await idp.signClaims(noExp)}`)
    await expect401(`Bearer ${await idp.signClaims(noSub)}`)
    await expect401(`Bearer ${await idp.token({ subject: 'user-a', claims: { iss: 'https://other-issuer.test' } })}`)
    await expect401(`Bearer ${await idp.token({ subject: 'user-a', claims: { aud: 'https://other-api.test' } })}`)
  })

  it('answers 401 to a revoked or expired API key, and to a 15 KB token', async () => {
    const revoked = await apiKeys.createApiKey(userCtx('owner-r'), { name: 'revoked' })
    await apiKeys.revokeApiKey(userCtx('owner-r'), revoked.record.id)
    await expect401(`Bearer ${revoked.plaintext}`)
    const clockKeys = createApiKeyCommands({ keys: new InMemoryApiKeyRepository(), now: () => new Date(Date.now() - 3 * 86_400_000) })
    const expired = await clockKeys.createApiKey(userCtx('owner-e'), { name: 'expired', expiresInDays: 1 })
    await expect(apiKeys.authenticateApiKey(expired.plaintext)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    await expect401(`Bearer ${await idp.token({ subject: 'user-a', claims: { padding: 'x'.repeat(15 * 1024) } })}`)
  })

  it('leaves open routes and routes outside /api/image alone', async () => {
    const open = await app.inject({ method: 'POST', url: '/api/image/v1/open' })
    expect(open.statusCode).toBe(200)
    expect(open.json()).toEqual({ actor: { type: 'anonymous' } })
    expect((await app.inject({ method: 'GET', url: '/api/health/liveness' })).statusCode).toBe(200)
  })

  it('logs each refusal with its request id and reason, and never a credential', async () => {
    const token = await idp.token({ subject: 'user-a', claims: { exp: now() - 3600 } })
    logLines.length = 0
    await app.inject({ method: 'GET', url: '/api/image/v1/whoami', headers: { authorization: `Bearer ${token}`, 'x-request-id': 'r-1' } })
    const { plaintext } = await apiKeys.createApiKey(userCtx('owner-l'), { name: 'logged' })
    await app.inject({ method: 'GET', url: '/api/image/v1/whoami', headers: { authorization: `Bearer ${plaintext}x` } })
    await app.inject({ method: 'GET', url: '/api/image/v1/whoami', headers: { authorization: `Bearer ${plaintext}` } })
    const refusal = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'authentication refused')
    expect(refusal).toMatchObject({ code: 'UNAUTHENTICATED', level: 40 })
    expect(typeof refusal?.reason).toBe('string')
    expect(typeof refusal?.request_id).toBe('string')
    const all = logLines.join('\n')
    expect(all).not.toContain(token.split('.')[2] as string)
    expect(all).not.toContain(plaintext.slice(4))
  })
})
