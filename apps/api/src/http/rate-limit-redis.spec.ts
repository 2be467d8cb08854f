import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import {
  type AppProcess,
  closedPort,
  createTestDatabase,
  findFreePort,
  type S3Emulator,
  startAppProcess,
  startS3Emulator,
  type TestDatabase,
  waitFor,
} from '@image-service/devstack'
import { AuthenticationError, type Authenticate } from '@image-service/foundation'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { registerAuthentication } from './authentication.ts'
import { registerErrorHandling } from './errors.ts'
import { registerRateLimit } from './rate-limit.ts'

/**
 * The Redis store, against REDIS_URL when set (CI starts a server on 127.0.0.1:6379), else a
 * redis-server of this spec's own on a free port. Never skipped: without either, it fails.
 */
async function useRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const given = process.env.REDIS_URL
  if (given !== undefined && given !== '') return { url: given, stop: async () => {} }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('the rate-limit Redis tests need REDIS_URL or a redis-server binary on PATH (apt-get install redis-server)')
  }
  const port = await findFreePort()
  const server: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  })
  const url = `redis://127.0.0.1:${port}`
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => {})
  await waitFor(async () => (await probe.connect().then(() => probe.ping())) === 'PONG' || undefined, {
    timeoutMs: 10_000,
    intervalMs: 50,
    description: 'redis-server',
  })
  probe.disconnect()
  return {
    url,
    stop: async () => {
      server.kill('SIGTERM')
      if (server.exitCode === null) await new Promise((resolve) => server.once('exit', resolve))
    },
  }
}

const authenticate: Authenticate = async (credential) => {
  if (!credential.startsWith('good-')) throw new AuthenticationError('unknown credential')
  return { type: 'user', ownerId: credential.slice('good-'.length), admin: false, via: 'jwt' }
}
const LIST = '/api/image/v1/images'

describe('rate limits in Redis', () => {
  let redis: Awaited<ReturnType<typeof useRedis>>
  let admin: Redis
  const prefixes: string[] = []
  const cleanups: (() => Promise<unknown>)[] = []
  const newPrefix = () => {
    const prefix = `spec-rate-limit:${randomUUID()}:`
    prefixes.push(prefix)
    return prefix
  }

  beforeAll(async () => {
    redis = await useRedis()
    admin = new Redis(redis.url)
  })
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
    for (const prefix of prefixes) {
      const keys = await admin.keys(`${prefix}*`)
      if (keys.length > 0) await admin.del(...keys)
    }
    admin?.disconnect()
    await redis?.stop()
  })

  async function start(client: Redis, redisKeyPrefix: string, perMinute = 5): Promise<FastifyInstance> {
    const app = Fastify()
    registerErrorHandling(app)
    await registerRateLimit(app, { perMinute, issuancePerMinute: 2, windowSeconds: 60, redisKeyPrefix, redis: client })
    registerAuthentication(app, authenticate)
    app.get(LIST, async () => ({ items: [] }))
    await app.ready()
    cleanups.push(() => app.close())
    return app
  }
  const client = (url: string) => {
    // As container.ts configures it.
    const created = new Redis(url, { commandTimeout: 500 })
    created.on('error', () => {})
    cleanups.push(async () => created.disconnect())
    return created
  }

  it('shares one budget between two apps, and keeps its counters under the prefix', async () => {
    const prefix = newPrefix()
    const apps = [await start(client(redis.url), prefix), await start(client(redis.url), prefix)]
    const codes: number[] = []
    for (let i = 0; i < 8; i++)
      codes.push((await apps[i % 2]?.inject({ url: LIST, headers: { authorization: 'Bearer good-a' } }))?.statusCode ?? 0)
    expect(codes).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
    expect(await admin.keys(`${prefix}*`)).toEqual([`${prefix}all:owner:a`])
  })

  it('lets requests through, never a 500, while Redis is away', async () => {
    const app = await start(client(`redis://127.0.0.1:${await closedPort()}`), newPrefix(), 1)
    for (let i = 0; i < 3; i++) expect((await app.inject({ url: LIST, headers: { authorization: 'Bearer good-a' } })).statusCode).toBe(200)
    expect((await app.inject({ url: LIST })).statusCode).toBe(401)
  })

  describe('two api processes (main.ts)', () => {
    let database: TestDatabase
    let s3: S3Emulator
    const running: AppProcess[] = []
    const SECRET = 'a-shared-secret-of-thirty-two-bytes!'
    beforeAll(async () => {
      database = await createTestDatabase(inject('databaseServerUrl'))
      s3 = await startS3Emulator({ buckets: ['spec-api-rate-limit'] })
    })
    afterAll(async () => {
      await Promise.all(running.map((main) => main.kill('SIGTERM')))
      await s3?.stop()
      await database?.drop()
    })

    it('together allow no more than one budget', async () => {
      const prefix = newPrefix()
      const start = async () => {
        const port = await findFreePort()
        const main = startAppProcess({
          name: 'api',
          entry: 'apps/api/src/main.ts',
          env: {
            PATH: process.env.PATH ?? '',
            LOG_LEVEL: 'warn',
            DATABASE_URL: database.url,
            DATABASE_POOL_MAX: '2',
            S3_BUCKET: 'spec-api-rate-limit',
            S3_ENDPOINT: s3.endpoint,
            S3_FORCE_PATH_STYLE: 'true',
            AWS_ACCESS_KEY_ID: s3.accessKeyId,
            AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
            CDN_MODE: 's3-presigned',
            AUTH_ISSUER: 'https://issuer.test',
            AUTH_AUDIENCE: 'image-service',
            AUTH_JWT_SECRET: SECRET,
            HOST: '127.0.0.1',
            PORT: String(port),
            REDIS_URL: redis.url,
            RATE_LIMIT_REDIS_PREFIX: prefix,
            RATE_LIMIT_PER_MINUTE: '6',
          },
        })
        running.push(main)
        const base = `http://127.0.0.1:${port}`
        await main.waitForHttp(`${base}/api/health/readiness`, 20_000)
        return base
      }
      const bases = await Promise.all([start(), start()])
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('owner-shared')
        .setIssuer('https://issuer.test')
        .setAudience('image-service')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(SECRET))

      // 20 requests at once, spread over both processes: 6 pass, whichever process each reached.
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => fetch(`${bases[i % 2]}${LIST}`, { headers: { authorization: `Bearer ${token}` } })),
      )
      const codes = responses.map((response) => response.status)
      expect(codes.filter((code) => code === 200)).toHaveLength(6)
      expect(codes.filter((code) => code === 429)).toHaveLength(14)
      const refused = responses.find((response) => response.status === 429)
      expect(refused?.headers.get('ratelimit-limit')).toBe('6')
      expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(await refused?.json()).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' })
      // One counter for both: each process with a budget of its own would have let 12 through.
      expect(await admin.get(`${prefix}all:owner:owner-shared`)).toBe('20')
    })
  })
})
