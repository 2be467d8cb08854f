import {
  type AppProcess,
  closedPort,
  createTestDatabase,
  type S3Emulator,
  startAppProcess,
  startS3Emulator,
  type TestDatabase,
} from '@image-service/devstack'
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

  it('serves, then stops cleanly with exit code 0 on SIGTERM', async () => {
    const port = await closedPort()
    const main = startMain({
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
    running.push(main)
    const readiness = `http://127.0.0.1:${port}/api/health/readiness`
    await main.waitForHttp(readiness, 20_000)
    expect(await (await fetch(readiness)).json()).toEqual({ status: 'ok' })

    expect(await main.kill('SIGTERM')).toEqual({ code: 0, signal: null })
    expect(main.logs().map((line) => line.msg)).toContain('stopped')
  })
})
