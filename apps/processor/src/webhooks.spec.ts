import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createProcessorContainer } from './container.ts'
import {
  corpusFile,
  createQueueWithBridge,
  credentialsOf,
  processorConfig,
  type Stack,
  silentLog,
  startStack,
  upload,
} from './testing/harness.ts'

let stack: Stack

beforeAll(async () => {
  stack = await startStack(inject('databaseServerUrl'))
})
afterAll(async () => {
  await stack?.stop()
})

describe('webhooks from the processor', () => {
  it('with WEBHOOK_URL and WEBHOOK_SECRET, the relay POSTs each state change of an upload, signed, in order', async () => {
    const received: { headers: Record<string, string>; body: string }[] = []
    const receiver = createServer((request, response) => {
      const chunks: Buffer[] = []
      request.on('data', (chunk: Buffer) => chunks.push(chunk))
      request.on('end', () => {
        received.push({ headers: request.headers as Record<string, string>, body: Buffer.concat(chunks).toString() })
        response.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    const secret = `whsec_${randomBytes(32).toString('base64')}`
    const q = await createQueueWithBridge(stack, { maxReceiveCount: 3, visibilityTimeoutSeconds: 5 })
    const container = createProcessorContainer(
      processorConfig(stack, q.queueUrl, {
        WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`,
        WEBHOOK_SECRET: secret,
        WEBHOOK_POLL_INTERVAL_MS: '20',
      }),
      silentLog,
      credentialsOf(stack),
    )
    const relay = container.webhookRelay
    expect(relay).toBeDefined()
    const relaying = relay?.run()
    const working = container.worker.run()
    try {
      // The relay starts at the head of the log; wait for it to be there before the upload.
      await expect.poll(async () => (await stack.db.sql`SELECT 1 FROM webhook_relay`).length).toBe(1)
      const id = await upload(stack, 'image/png', corpusFile('valid-png-rgb-1024x768.png'))
      await expect.poll(() => received.length, { timeout: 20_000 }).toBe(2)
      const verifier = new Webhook(secret)
      const payloads = received.map(
        (message) => verifier.verify(message.body, message.headers) as { type: string; data: { subject_id: string } },
      )
      expect(payloads.map((p) => [p.type, p.data.subject_id])).toEqual([
        ['image.pending', id],
        ['image.ready', id],
      ])
    } finally {
      await container.close()
      await Promise.all([relaying, working])
      await q.bridge.stop()
      await new Promise<void>((resolve) => receiver.close(() => resolve()))
    }
  })
})
