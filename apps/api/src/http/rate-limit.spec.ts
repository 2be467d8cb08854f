import { AuthenticationError, type Authenticate } from '@image-service/foundation'
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { registerAuthentication } from './authentication.ts'
import { registerErrorHandling } from './errors.ts'
import { type RateLimitOptions, registerRateLimit } from './rate-limit.ts'

// A credential `good-<owner>` is that owner; anything else is refused.
const authenticate: Authenticate = async (credential) => {
  if (!credential.startsWith('good-')) throw new AuthenticationError('unknown credential')
  return { type: 'user', ownerId: credential.slice('good-'.length), admin: false, via: 'jwt' }
}

const PRESIGN = '/api/image/v1/upload/create-presigned-url'
const LIST = '/api/image/v1/images'

describe('rate limits (in memory)', () => {
  const apps: FastifyInstance[] = []
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()))
  })

  /** The edge as app.ts orders it: error handling, rate limits, authentication, then the routes. */
  async function start(options: Partial<RateLimitOptions> = {}, trustProxy = false) {
    const app = Fastify({ trustProxy })
    registerErrorHandling(app)
    await registerRateLimit(app, { perMinute: 5, issuancePerMinute: 2, windowSeconds: 60, redisKeyPrefix: 'spec:', ...options })
    registerAuthentication(app, authenticate)
    app.get(LIST, async () => ({ items: [] }))
    app.post(PRESIGN, async () => ({ issued: true }))
    app.post('/api/image/v1/processing/webhooks/fal', { config: { auth: 'none' } }, async () => ({ ok: true }))
    for (const url of [
      '/api/health/liveness',
      '/api/health/readiness',
      '/metrics',
      '/api/openapi.json',
      '/docs',
      '/docs/static/index.html',
    ]) {
      app.get(url, async () => ({ ok: true }))
    }
    await app.ready()
    apps.push(app)
    return app
  }
  const as = (owner: string, options: InjectOptions): InjectOptions => ({
    ...options,
    headers: { ...options.headers, authorization: `Bearer good-${owner}` },
  })
  const statuses = async (app: FastifyInstance, count: number, options: InjectOptions) => {
    const codes: number[] = []
    for (let i = 0; i < count; i++) codes.push((await app.inject(options)).statusCode)
    return codes
  }

  it('answers a burst past the limit with 429 RATE_LIMITED, Retry-After and the RateLimit-* headers', async () => {
    const app = await start()
    const first = await app.inject(as('a', { url: LIST }))
    expect(first.statusCode).toBe(200)
    expect(first.headers).toMatchObject({ 'ratelimit-limit': '5', 'ratelimit-remaining': '4' })
    expect(Number(first.headers['ratelimit-reset'])).toBeGreaterThan(0)

    expect(await statuses(app, 5, as('a', { url: LIST }))).toEqual([200, 200, 200, 200, 429])
    const refused = await app.inject(as('a', { url: LIST }))
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      code: 'RATE_LIMITED',
      message: expect.stringMatching(/^rate limit exceeded, retry in \d+ s$/),
    })
    expect(refused.headers).toMatchObject({ 'ratelimit-limit': '5', 'ratelimit-remaining': '0' })
    const retryAfter = Number(refused.headers['retry-after'])
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(60)
  })

  it('counts per owner: another owner keeps its whole budget, from the same IP', async () => {
    const app = await start()
    expect(await statuses(app, 6, as('a', { url: LIST }))).toEqual([200, 200, 200, 200, 200, 429])
    expect(await statuses(app, 5, as('b', { url: LIST }))).toEqual([200, 200, 200, 200, 200])
  })

  it('counts unauthenticated requests per client IP', async () => {
    const app = await start()
    const webhook = (remoteAddress: string): InjectOptions => ({
      method: 'POST',
      url: '/api/image/v1/processing/webhooks/fal',
      remoteAddress,
    })
    expect(await statuses(app, 6, webhook('203.0.113.1'))).toEqual([200, 200, 200, 200, 200, 429])
    expect(await statuses(app, 1, webhook('203.0.113.2'))).toEqual([200])
    // An owner's budget is its own, whatever its IP; refused credentials have a budget of their own.
    expect(await statuses(app, 1, as('a', { url: LIST, remoteAddress: '203.0.113.1' }))).toEqual([200])
    expect(await statuses(app, 1, { url: LIST, remoteAddress: '203.0.113.1' })).toEqual([401])
  })

  it('counts 401s per client IP; once spent, that IP gets 429 before any credential is tried', async () => {
    const app = await start()
    const bad: InjectOptions = { url: LIST, remoteAddress: '198.51.100.7', headers: { authorization: 'Bearer wrong' } }
    expect(await statuses(app, 5, bad)).toEqual([401, 401, 401, 401, 401])
    expect(await statuses(app, 1, { url: LIST, remoteAddress: '198.51.100.7' })).toEqual([429])
    // A good credential from that IP is refused too: a guess that works must not be told apart.
    const guessed = await app.inject(as('a', { url: LIST, remoteAddress: '198.51.100.7' }))
    expect(guessed.statusCode).toBe(429)
    expect(guessed.json()).toMatchObject({ code: 'RATE_LIMITED' })
    expect(Number(guessed.headers['retry-after'])).toBeGreaterThan(0)
    expect(guessed.headers['ratelimit-remaining']).toBe('0')
    // Other IPs, and owner a's own budget from them, are untouched.
    expect(await statuses(app, 1, { ...bad, remoteAddress: '198.51.100.8' })).toEqual([401])
    expect(await statuses(app, 5, as('a', { url: LIST, remoteAddress: '198.51.100.8' }))).toEqual([200, 200, 200, 200, 200])
  })

  it('keys by the X-Forwarded-For client when TRUST_PROXY trusts the proxy, and ignores it otherwise', async () => {
    const behindProxy = await start({}, true)
    const from = (client: string): InjectOptions => ({ url: LIST, headers: { 'x-forwarded-for': client } })
    expect(await statuses(behindProxy, 6, from('192.0.2.1'))).toEqual([401, 401, 401, 401, 401, 429])
    expect(await statuses(behindProxy, 1, from('192.0.2.2'))).toEqual([401])

    const direct = await start()
    // Without a trusted proxy the header is the client's own claim: one bucket, the peer's.
    expect(await statuses(direct, 5, from('192.0.2.1'))).toEqual([401, 401, 401, 401, 401])
    expect(await statuses(direct, 1, from('192.0.2.2'))).toEqual([429])
  })

  it('gives the issuing routes their lower limit within the overall one', async () => {
    const app = await start()
    const presign: InjectOptions = { method: 'POST', url: PRESIGN }
    const second = await app.inject(as('a', presign))
    expect(second.statusCode).toBe(200)
    expect(second.headers).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1' })
    const codes = await statuses(app, 2, as('a', presign))
    expect(codes).toEqual([200, 429])
    // The refused presign counted towards the overall limit too: 3 of 5 spent.
    expect(await statuses(app, 3, as('a', { url: LIST }))).toEqual([200, 200, 429])
    expect(await statuses(app, 2, as('b', presign))).toEqual([200, 200])
  })

  it('never limits health, metrics and docs', async () => {
    const app = await start({ perMinute: 1 })
    for (const url of [
      '/api/health/liveness',
      '/api/health/readiness',
      '/metrics',
      '/api/openapi.json',
      '/docs',
      '/docs/static/index.html',
    ]) {
      const codes = await statuses(app, 3, { url })
      expect(codes, url).toEqual([200, 200, 200])
      expect((await app.inject({ url })).headers['ratelimit-limit'], url).toBeUndefined()
    }
  })

  it('recovers once the window has passed', async () => {
    const app = await start({ perMinute: 2, windowSeconds: 1 })
    expect(await statuses(app, 3, as('a', { url: LIST }))).toEqual([200, 200, 429])
    await expect.poll(async () => (await app.inject(as('a', { url: LIST }))).statusCode, { timeout: 5000, interval: 100 }).toBe(200)

    // A spent IP recovers likewise.
    const bad: InjectOptions = { url: LIST, headers: { authorization: 'Bearer wrong' } }
    expect(await statuses(app, 3, bad)).toEqual([401, 401, 429])
    await expect.poll(async () => (await app.inject(bad)).statusCode, { timeout: 5000, interval: 100 }).toBe(401)
  })
})
