import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { S3Client } from '@aws-sdk/client-s3'
import { closedPort, type S3Emulator } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type SpecBucket, specS3Client, startSpecBucket } from '../testing/spec-bucket.ts'
import { DependencyUnavailableError } from '../../../common/errors.ts'
import { newImageId, objectKeyFor } from '../../../shared/image/image.ts'
import { createS3Client } from '../../../shared/storage/s3-client.ts'
import { createS3ValidationStorage } from './s3-validation-storage.ts'
import { StoredObjectChangedError } from '../../../shared/storage/s3-errors.ts'

const BUCKET = 'spec-s3-image-storage'

// Reads, metadata and deletes on the emulator: testing/image-storage.contract.spec.ts.
describe('S3ValidationStorage against the S3 emulator', () => {
  let bucket: SpecBucket
  let s3: S3Emulator

  beforeAll(async () => {
    bucket = await startSpecBucket(BUCKET)
    ;({ s3 } = bucket)
  })
  afterAll(async () => {
    await bucket?.stop()
  })

  const freshKey = () => objectKeyFor(newImageId())

  it('turns refused credentials into STORAGE_UNAVAILABLE', async () => {
    const badClient = specS3Client(s3, BUCKET, 'not-the-secret')
    try {
      const bad = createS3ValidationStorage({ client: badClient, bucket: BUCKET })
      await expectUnavailable(bad.getObjectMetadata(freshKey()))
      await expectUnavailable(bad.readObject(freshKey(), { maxBytes: 10, etag: '"x"' }))
    } finally {
      badClient.destroy()
    }
  })
})

describe('S3ValidationStorage when storage is unreachable', () => {
  it('throws STORAGE_UNAVAILABLE from every call', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`
    const client = createS3Client({
      region: 'us-east-1',
      bucket: BUCKET,
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    })
    try {
      const storage = createS3ValidationStorage({ client, bucket: BUCKET })
      const key = objectKeyFor(newImageId())
      await expectUnavailable(storage.getObjectMetadata(key))
      await expectUnavailable(storage.readObjectStart(key, { bytes: 10 }))
      await expectUnavailable(storage.readObject(key, { maxBytes: 10, etag: '"x"' }))
      await expectUnavailable(storage.deleteObject(key))
    } finally {
      client.destroy()
    }
  })
})

describe('S3ValidationStorage on a store that ignores Range and If-Match', () => {
  // Answers every GET with 200 and an endless body of the version `served`, whatever was asked.
  let server: Server
  let client: S3Client
  let served = '"v1"'
  const bodiesClosed: string[] = []

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-length': '1000', 'content-type': 'image/png', etag: served })
        res.end()
        return
      }
      res.writeHead(200, { 'content-type': 'image/png', etag: served })
      const chunk = Buffer.alloc(64 * 1024, 7)
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
      }
      res.on('drain', pump)
      res.on('close', () => bodiesClosed.push(req.headers.range ?? ''))
      pump()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    client = createS3Client({
      region: 'us-east-1',
      bucket: BUCKET,
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    })
  })
  afterAll(async () => {
    client.destroy()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('takes in no more than asked, and drops the connection of a body that does not end', async () => {
    const storage = createS3ValidationStorage({ client, bucket: BUCKET })
    const key = objectKeyFor(newImageId())
    const start = await storage.readObjectStart(key, { bytes: 4100 })
    // No length was sent: the object is known only to be longer than the head.
    expect(start?.object).toMatchObject({ sizeBytes: 4101, etag: '"v1"' })
    const head = start?.head ?? new Uint8Array(0)
    const all = await storage.readObject(key, { maxBytes: 1_000_000, etag: start?.object.etag ?? '' })
    // Lengths and a byte-wise compare (toEqual walks a million elements slowly).
    expect([head.length, all.length]).toEqual([4100, 1_000_001])
    expect(Buffer.from(all).equals(Buffer.alloc(1_000_001, 7))).toBe(true)
    // Both ranges were asked for, and ignored; each endless body was cut off by us.
    await expect.poll(() => bodiesClosed).toEqual(['bytes=0-4099', 'bytes=0-1000000'])
  })

  it('refuses bytes of another version than the one asked for, If-Match or not', async () => {
    const storage = createS3ValidationStorage({ client, bucket: BUCKET })
    const key = objectKeyFor(newImageId())
    const etag = (await storage.getObjectMetadata(key))?.etag ?? ''
    served = '"v2"'
    await expect(storage.readObject(key, { maxBytes: 10, etag })).rejects.toBeInstanceOf(StoredObjectChangedError)
  })
})

async function expectUnavailable(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DependencyUnavailableError)
  expect(error).toMatchObject({ kind: 'unavailable', code: 'STORAGE_UNAVAILABLE' })
}
