import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { closedPort, createTestDatabase, type S3Emulator, startS3Emulator, type TestDatabase, waitFor } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url))

/** Runs main.ts as production does (its own process, configured by the environment only). */
function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, exited, output: () => ({ stdout, stderr }) }
}

describe('main.ts', () => {
  let database: TestDatabase
  let s3: S3Emulator
  const running: ChildProcess[] = []

  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseServerUrl'))
    s3 = await startS3Emulator({ buckets: ['spec-api-main'] })
  })
  afterAll(async () => {
    for (const child of running) if (child.exitCode === null) child.kill('SIGKILL')
    await s3?.stop()
    await database?.drop()
  })

  it('exits 1 naming every configuration problem', async () => {
    const main = startMain({ PORT: 'not-a-port' })
    running.push(main.child)
    expect(await main.exited).toBe(1)
    const { stderr } = main.output()
    expect(stderr).toContain('Invalid configuration')
    expect(stderr).toContain('DATABASE_URL is required')
    expect(stderr).toContain('S3_BUCKET is required')
    expect(stderr).toContain('PORT')
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
      HOST: '127.0.0.1',
      PORT: String(port),
    })
    running.push(main.child)
    const base = `http://127.0.0.1:${port}`
    const ready = await waitFor(
      async () => {
        const response = await fetch(`${base}/api/health/readiness`)
        return response.status === 200 ? response : undefined
      },
      { timeoutMs: 20_000, description: 'the api to answer readiness' },
    )
    expect(await ready.json()).toEqual({ status: 'ok' })

    main.child.kill('SIGTERM')
    expect(await main.exited).toBe(0)
    expect(main.output().stdout).toContain('stopped')
  })
})
