import {
  type AppProcess,
  closedPort,
  createTestDatabase,
  type S3Emulator,
  startAppProcess,
  startS3Emulator,
  type TestDatabase,
} from '@image-service/devstack'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

/** Runs main.ts as production does (its own process, configured by the environment only). */
const startMain = (env: Record<string, string>) =>
  startAppProcess({ name: 'api', entry: 'apps/api/src/main.ts', env: { PATH: process.env.PATH ?? '', ...env } })

describe('main.ts', () => {
  let database: TestDatabase
  let s3: S3Emulator
  const running: AppProcess[] = []

  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseServerUrl'))
    s3 = await startS3Emulator({ buckets: ['spec-api-main'] })
  })
  afterAll(async () => {
    await Promise.all(running.map((main) => main.kill('SIGKILL')))
    await s3?.stop()
    await database?.drop()
  })

  it('exits 1 naming every configuration problem', async () => {
    const main = startMain({ PORT: 'not-a-port' })
    running.push(main)
    expect((await main.exited).code).toBe(1)
    const stderr = main.output()
    expect(stderr).toContain('[stderr] Invalid configuration')
    expect(stderr).toContain('DATABASE_URL is required')
    expect(stderr).toContain('S3_BUCKET is required')
    expect(stderr).toContain('PORT')
    // DESIGN: no start without a way to authenticate callers.
    expect(stderr).toContain('no way to authenticate callers')
  })

  const serving = (port: number): Record<string, string> => ({
    LOG_LEVEL: 'info',
    DATABASE_URL: database.url,
    S3_BUCKET: 'spec-api-main',
    S3_ENDPOINT: s3.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    CDN_MODE: 's3-presigned',
    AUTH_ISSUER: 'https://issuer.test',
    AUTH_AUDIENCE: 'image-service',
    AUTH_JWT_SECRET: 'a-shared-secret-of-thirty-two-bytes!',
    HOST: '127.0.0.1',
    PORT: String(port),
  })

  it('serves, then stops cleanly with exit code 0 on SIGTERM', async () => {
    const port = await closedPort()
    const main = startMain(serving(port))
    running.push(main)
    const readiness = `http://127.0.0.1:${port}/api/health/readiness`
    await main.waitForHttp(readiness, 20_000)
    expect(await (await fetch(readiness)).json()).toEqual({ status: 'ok' })

    expect(await main.kill('SIGTERM')).toEqual({ code: 0, signal: null })
    expect(main.logs().map((line) => line.msg)).toContain('stopped')
  })

  it('stops cleanly on SIGTERM while an event stream is open: the stream is ended, the process exits 0', async () => {
    const port = await closedPort()
    const main = startMain(serving(port))
    running.push(main)
    await main.waitForHttp(`http://127.0.0.1:${port}/api/health/readiness`, 20_000)
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('stream-owner')
      .setIssuer('https://issuer.test')
      .setAudience('image-service')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('a-shared-secret-of-thirty-two-bytes!'))
    const stream = await fetch(`http://127.0.0.1:${port}/api/image/v1/events/stream`, { headers: { authorization: `Bearer ${token}` } })
    expect(stream.status).toBe(200)
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader()
    await reader.read() // the stream is open: its first bytes arrived
    const exited = main.kill('SIGTERM')
    // The client sees its stream end (it would reconnect to another replica)...
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {}
    // ...and the process does not wait for it: exit 0, not the grace period's SIGKILL.
    expect(await exited).toEqual({ code: 0, signal: null })
  })

  it('exports its spans over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, as the image runs it (with the tracing preload)', async () => {
    const received: string[] = []
    const collector = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')))
      request.on('end', () => {
        received.push(`${request.method} ${request.url} ${body}`)
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      })
    })
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
    const { port: collectorPort } = collector.address() as AddressInfo
    try {
      const port = await closedPort()
      const main = startAppProcess({
        name: 'api',
        entry: 'apps/api/src/main.ts',
        nodeArgs: ['--import', './packages/foundation/src/tracing-preload.ts'],
        env: { PATH: process.env.PATH ?? '', ...serving(port), OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}` },
      })
      running.push(main)
      await main.waitForHttp(`http://127.0.0.1:${port}/api/health/readiness`, 20_000)
      expect((await fetch(`http://127.0.0.1:${port}/api/image/v1/usage`)).status).toBe(401)
      // Shutdown flushes what the batch processor holds.
      expect(await main.kill('SIGTERM')).toEqual({ code: 0, signal: null })
      const exported = received.filter((line) => line.startsWith('POST /v1/traces ')).join('\n')
      expect(exported).toContain('image-service-api')
      // @fastify/otel's request span, by route template, and the HTTP instrumentation's server span.
      expect(exported).toContain('/api/image/v1/usage')
      expect(exported).toContain('@opentelemetry/instrumentation-http')
      expect(exported).not.toContain('/api/health/readiness')
    } finally {
      await new Promise((resolve) => collector.close(resolve))
    }
  })
})
