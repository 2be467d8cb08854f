import { startAppProcess, waitFor } from '@image-service/devstack'
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
  it('validates uploads, and on SIGTERM stops its 20 s long poll, closes its clients and exits 0', async () => {
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
        LOG_LEVEL: 'info',
      },
    })
    try {
      const id = await upload(stack, 'image/png', corpusFile('valid-png-1x1-palette-pngsuite-s01n3p01.png'))
      const ready = waitFor(async () => ((await stack.images.findById(id))?.status === 'ready' ? true : undefined), {
        timeoutMs: 30_000,
        description: 'the upload ready',
      })
      await processor.whileRunning(ready, 'the upload ready')
      // The record turns ready a moment before the processor writes its line about it.
      await processor.waitForLog((line) => line.outcome === 'ready', 'the "ready" log line', 10_000)

      expect(await processor.kill('SIGTERM')).toEqual({ code: 0, signal: null })
      expect(processor.logs().map((line) => line.msg)).toContain('processor stopped')
    } finally {
      await processor.kill('SIGKILL')
      await q.bridge.stop()
    }
  })
})
