import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmulatorS3Client } from './emulator-s3-client.ts'
import { type S3Emulator, startS3Emulator } from './s3-emulator.ts'

const BUCKET = 'spec-s3-directories'

/**
 * Deleting one key must never disturb another key under the same prefix. s3rver removes a
 * key's parent directory once it looks empty (recursively), so a PUT landing in that prefix
 * between its check and its removal lost its directory: a 500, or an object gone after a 200.
 */
describe('S3 emulator: deletes and writes under one prefix', () => {
  let s3: S3Emulator
  let client: ReturnType<typeof createEmulatorS3Client>
  beforeAll(async () => {
    s3 = await startS3Emulator({ buckets: [BUCKET] })
    client = createEmulatorS3Client(s3, { maxAttempts: 1 })
  })
  afterAll(async () => {
    client?.destroy()
    await s3?.stop()
  })

  it('keeps every object written while another one under the prefix is deleted', async () => {
    const put = (key: string) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: new Uint8Array([1, 2, 3]) }))
    for (let round = 0; round < 60; round++) {
      const [gone, kept] = [`uploads/gone-${round}`, `uploads/kept-${round}`]
      await put(gone)
      await Promise.all([client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: gone })), put(kept)])
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: kept }))
      expect(head.ContentLength).toBe(3)
      await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: kept }))
    }
  })
})
