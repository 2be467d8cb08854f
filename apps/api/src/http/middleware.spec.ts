import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { registerErrorHandling } from './errors.ts'
import { registerHttpMiddleware, requestIdServerOptions } from './middleware.ts'
import { requestLogController } from './request-log.ts'

type LogLine = Record<string, unknown>
const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()))
})

/** The middleware on a bare app with the same server options buildApp uses; logs captured. */
async function appWith(corsOrigins: string[]) {
  const lines: LogLine[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as LogLine)
      done()
    },
  })
  const app = Fastify({
    logger: { level: 'info', stream },
    logController: requestLogController(),
    ...requestIdServerOptions,
  })
  apps.push(app)
  registerErrorHandling(app)
  await registerHttpMiddleware(app, { corsOrigins })
  app.get('/api/thing', async () => ({ ok: true }))
  app.get('/docs/page', async () => 'docs')
  await app.ready()
  return { app, lines }
}

describe('request id', () => {
  it('generates one when none is sent and echoes it', async () => {
    const { app } = await appWith([])
    const response = await app.inject({ method: 'GET', url: '/api/thing' })
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('echoes a sane incoming id and logs it', async () => {
    const { app, lines } = await appWith([])
    const response = await app.inject({ method: 'GET', url: '/api/thing', headers: { 'x-request-id': 'trace-01.ab:c_9' } })
    expect(response.headers['x-request-id']).toBe('trace-01.ab:c_9')
    expect(lines.some((l) => l.request_id === 'trace-01.ab:c_9')).toBe(true)
  })

  it.each(['has space', 'x'.repeat(129), 'quote"d', ''])('replaces an unsafe incoming id (%j)', async (id) => {
    const { app } = await appWith([])
    const response = await app.inject({ method: 'GET', url: '/api/thing', headers: { 'x-request-id': id } })
    expect(response.headers['x-request-id']).not.toBe(id)
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('is set on 404s too', async () => {
    const { app } = await appWith([])
    const response = await app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'abc' } })
    expect(response.statusCode).toBe(404)
    expect(response.headers['x-request-id']).toBe('abc')
  })
})

describe('request log', () => {
  it('writes exactly one line per request with method, path, status and duration', async () => {
    const { app, lines } = await appWith([])
    await app.inject({ method: 'GET', url: '/api/thing?secret=1', headers: { 'x-request-id': 'one-line' } })
    const mine = lines.filter((l) => l.request_id === 'one-line')
    expect(mine).toHaveLength(1)
    expect(mine[0]).toMatchObject({ method: 'GET', path: '/api/thing', route: '/api/thing', statusCode: 200, msg: 'request completed' })
    expect(typeof mine[0]?.durationMs).toBe('number')
    expect(JSON.stringify(mine[0])).not.toContain('secret')
  })
})

describe('security headers', () => {
  it('marks API answers nosniff, no-store, no-referrer, with a deny-all CSP and no x-powered-by', async () => {
    const { app } = await appWith([])
    for (const url of ['/api/thing', '/nope']) {
      const response = await app.inject({ method: 'GET', url })
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      })
      expect(response.headers['x-powered-by']).toBeUndefined()
      expect(response.headers['strict-transport-security']).toBeUndefined()
    }
  })

  it('leaves the CSP of /docs to the docs plugin', async () => {
    const { app } = await appWith([])
    const response = await app.inject({ method: 'GET', url: '/docs/page' })
    expect(response.headers['content-security-policy']).toBeUndefined()
    expect(response.headers['x-content-type-options']).toBe('nosniff')
  })
})

describe('CORS', () => {
  const preflight = (origin: string) => ({
    method: 'OPTIONS' as const,
    url: '/api/thing',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  })

  it('answers a preflight from an allowed origin and stays silent for others', async () => {
    const { app } = await appWith(['https://app.example.com'])
    const allowed = await app.inject(preflight('https://app.example.com'))
    expect(allowed.statusCode).toBe(204)
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com')
    expect(allowed.headers['access-control-allow-methods']).toContain('POST')
    expect(allowed.headers['access-control-allow-headers']).toContain('content-type')

    const other = await app.inject(preflight('https://evil.example.com'))
    expect(other.headers['access-control-allow-origin']).toBeUndefined()
    const simple = await app.inject({ method: 'GET', url: '/api/thing', headers: { origin: 'https://evil.example.com' } })
    expect(simple.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('exposes x-request-id to allowed origins on actual requests', async () => {
    const { app } = await appWith(['https://app.example.com'])
    const response = await app.inject({ method: 'GET', url: '/api/thing', headers: { origin: 'https://app.example.com' } })
    expect(response.headers['access-control-allow-origin']).toBe('https://app.example.com')
    expect(response.headers['access-control-expose-headers']).toContain('x-request-id')
  })

  it('lets a browser send the bearer credential and DELETE, and read the rate-limit and auth headers', async () => {
    const { app } = await appWith(['https://app.example.com'])
    const response = await app.inject({
      method: 'OPTIONS',
      url: '/api/thing',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'DELETE',
        'access-control-request-headers': 'authorization',
      },
    })
    expect(response.headers['access-control-allow-methods']?.toString().split(/, */)).toEqual(
      expect.arrayContaining(['GET', 'POST', 'DELETE']),
    )
    expect(response.headers['access-control-allow-headers']).toContain('authorization')
    const actual = await app.inject({ method: 'GET', url: '/api/thing', headers: { origin: 'https://app.example.com' } })
    const exposed = String(actual.headers['access-control-expose-headers']).split(/, */)
    expect(exposed).toEqual(
      expect.arrayContaining(['retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'www-authenticate']),
    )
    expect(actual.headers['access-control-allow-credentials']).toBeUndefined()
  })

  it('allows any origin with *', async () => {
    const { app } = await appWith(['*'])
    const response = await app.inject(preflight('https://anything.example'))
    expect(response.headers['access-control-allow-origin']).toBe('*')
  })

  it('sends no CORS headers with an empty list', async () => {
    const { app } = await appWith([])
    const response = await app.inject(preflight('https://app.example.com'))
    expect(response.headers['access-control-allow-origin']).toBeUndefined()
    expect(response.statusCode).toBe(404)
  })
})
