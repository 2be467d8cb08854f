import { spawn } from 'node:child_process'
import path from 'node:path'
import { waitFor } from '@image-service/devstack'
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
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'main.ts')], {
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
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      const id = await upload(stack, 'image/png', corpusFile('valid-png-1x1-palette-pngsuite-s01n3p01.png'))
      await waitFor(async () => ((await stack.images.findById(id))?.status === 'ready' ? true : undefined), {
        timeoutMs: 30_000,
        description: `the upload ready (processor output: ${output})`,
      })
      // The record turns ready a moment before the processor writes its line about it.
      await waitFor(() => (output.includes('"outcome":"ready"') ? true : undefined), {
        timeoutMs: 10_000,
        description: `the processor's "ready" log line (output: ${output})`,
      })
      expect(output).toContain('"outcome":"ready"')

      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(output).toContain('processor stopped')
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
      await q.bridge.stop()
    }
  })
})
