import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmulatorS3Client } from './emulator-s3-client.ts'
import { type S3Emulator, startS3Emulator } from './s3-emulator.ts'

const BUCKET = 'spec-s3-conditional-read'

describe('S3 emulator: conditional and ranged reads', () => {
  let s3: S3Emulator
  let client: S3Client

  beforeAll(async () => {
    s3 = await startS3Emulator({ buckets: [BUCKET] })
    client = createEmulatorS3Client(s3, { maxAttempts: 1 })
  })
  afterAll(async () => {
    client.destroy()
    await s3.stop()
  })

  const put = async (key: string, body: string) =>
    (await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from(body) }))).ETag ?? ''
  const status = (promise: Promise<unknown>) =>
    promise.then(
      () => 200,
      (error: unknown) => (error instanceof S3ServiceException ? error.$metadata.httpStatusCode : error),
    )

  it('serves a GET or HEAD whose If-Match names the stored ETag, or *', async () => {
    const etag = await put('uploads/match', 'first')
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/match', IfMatch: etag, Range: 'bytes=0-2' }))
    expect(await got.Body?.transformToString()).toBe('fir')
    expect(await status(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'uploads/match', IfMatch: etag })))).toBe(200)
    expect(await status(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/match', IfMatch: '*' })))).toBe(200)
  })

  it('refuses with 412 once the object was replaced, on GET and HEAD', async () => {
    const first = await put('uploads/replaced', 'first')
    const second = await put('uploads/replaced', 'second')
    expect(second).not.toBe(first)
    const error = await client
      .send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/replaced', IfMatch: first }))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(S3ServiceException)
    expect(error).toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } })
    expect(await status(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'uploads/replaced', IfMatch: first })))).toBe(412)
    expect(await status(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/replaced', IfMatch: second })))).toBe(200)
  })

  it('answers a ranged GET of an empty object with 416, as S3 does, instead of a body it never sends', async () => {
    await put('uploads/empty', '')
    const error = await client
      .send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/empty', Range: 'bytes=0-9' }))
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'InvalidRange', $metadata: { httpStatusCode: 416 } })
    expect(await status(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/empty' })))).toBe(200)
  })

  it('answers 404 for a missing object, whatever If-Match says', async () => {
    expect(await status(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/none', IfMatch: '"abc"' })))).toBe(404)
  })
})
