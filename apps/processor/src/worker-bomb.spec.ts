import { createMessageSpy, type ImageId, objectKeyFor } from '@image-service/foundation'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createProcessorContainer } from './container.ts'
import {
  corpusFile,
  createQueueWithBridge,
  credentialsOf,
  processorConfig,
  silentLog,
  type Stack,
  startStack,
  upload,
} from './testing/harness.ts'

/**
 * The memory bound of the README: rejecting decompression bombs (400 Mpx PNG = 1.6 GB RGBA,
 * 268 Mpx lossless WebP = 1 GB RGBA) must not grow the process by more than this.
 * A memory bound, not a timing assertion.
 */
const RSS_BOUND_BYTES = 200 * 1024 * 1024

let stack: Stack
beforeAll(async () => {
  stack = await startStack(inject('databaseServerUrl'))
})
afterAll(async () => {
  await stack?.stop()
})

describe('decompression bombs through the worker', () => {
  it('rejects them while RSS grows by less than 200 MB', async () => {
    const q = await createQueueWithBridge(stack, { maxReceiveCount: 3, visibilityTimeoutSeconds: 5 })
    const spy = createMessageSpy()
    const processor = createProcessorContainer(processorConfig(stack, q.queueUrl), silentLog, {
      ...credentialsOf(stack),
      onMessageProcessed: spy.listener,
    })
    const running = processor.worker.run()
    try {
      const rssBefore = process.memoryUsage().rss
      const ids: ImageId[] = [
        await upload(stack, 'image/png', corpusFile('bomb-png-20000x20000-one-colour.png')),
        await upload(stack, 'image/webp', corpusFile('bomb-webp-16383x16383-lossless.webp')),
      ]
      for (const id of ids) await spy.waitForMessage((m) => m.subjects.some((s) => s.id === id && s.outcome === 'failed'), 'ack')
      const grownBy = process.memoryUsage().rss - rssBefore

      const records = await stack.images.findOwnedByIds('owner-a', ids)
      expect(records.map((r) => [r.status, r.failureReason])).toEqual([
        ['failed', 'too_many_pixels'],
        ['failed', 'too_many_pixels'],
      ])
      for (const id of ids) expect(await stack.storage.getObjectMetadata(objectKeyFor(id))).toBeNull()
      expect(grownBy).toBeLessThan(RSS_BOUND_BYTES)
      console.info(`bombs rejected; RSS grew by ${(grownBy / 1024 / 1024).toFixed(1)} MB (bound 200 MB)`)
    } finally {
      await processor.close()
      await running
      await q.bridge.stop()
    }
  })
})
