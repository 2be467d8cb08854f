import { startAppProcess } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { corpusFile, createQueueWithBridge, type Stack, startStack, upload } from './testing/harness.ts'

let stack: Stack
beforeAll(async () => {
  stack = await startStack(inject('databaseServerUrl'))
})
afterAll(async () => {
  await stack?.stop()
})

describe('processor main', () => {
  it('validates uploads, serves /health and /metrics, and on SIGTERM stops its 20 s long poll, closes its clients and exits 0', async () => {
    const q = await createQueueWithBridge(stack, { maxReceiveCount: 3, visibilityTimeoutSeconds: 5 })
    const processor = startAppProcess({
      name: 'processor',
      entry: 'apps/processor/src/main.ts',
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: stack.database.url,
        S3_BUCKET: stack.bucket,
        S3_ENDPOINT: stack.s3.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        SQS_QUEUE_URL: q.queueUrl,
        SQS_ENDPOINT: stack.sqs.endpoint,
        AWS_REGION: stack.s3.region,
        AWS_ACCESS_KEY_ID: stack.s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: stack.s3.secretAccessKey,
        PROCESSOR_HTTP_PORT: '0',
        LOG_LEVEL: 'info',
      },
    })
    try {
      const started = await processor.waitForLog((line) => line.msg === 'processor started', 'the start-up line', 30_000)
      const url = String(started.http)
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

      const id = await upload(stack, 'image/png', corpusFile('valid-png-1x1-palette-pngsuite-s01n3p01.png'))
      // The line is written once the message is handled and deleted, so the record is final by then.
      await processor.waitForLog((line) => line.imageId === id && line.outcome === 'ready', 'the "ready" line of the upload', 30_000)
      expect(await stack.images.findById(id)).toMatchObject({ status: 'ready' })

      expect((await fetch(`${url}/health/liveness`)).status).toBe(200)
      expect((await fetch(`${url}/health/readiness`)).status).toBe(200)
      expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^image_validations_total\{outcome="ready",reason="none"\} 1$/m)

      expect(await processor.kill('SIGTERM')).toEqual({ code: 0, signal: null })
      expect(processor.logs().find((line) => line.msg === 'processor stopped')).toMatchObject({ validations: { ready: 1 } })
      await expect(fetch(`${url}/health/liveness`)).rejects.toThrow()
    } finally {
      await processor.kill('SIGKILL')
      await q.bridge.stop()
    }
  })
})
