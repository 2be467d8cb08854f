import { ListObjectsV2Command, type ListObjectsV2CommandOutput, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEmulatorS3Client } from './emulator-s3-client.ts'
import { type S3Emulator, startS3Emulator } from './s3-emulator.ts'

const BUCKET = 'spec-s3-list-objects'
const UNDER = ['list/a/1.webp', 'list/a/2.webp', 'list/a/3.webp', 'list/a/deep/4.webp', 'list/a/deep/5.webp']
const OUTSIDE = ['list/a-sibling.webp', 'list/b/1.webp', 'list/1.webp']

type Request = { path: string; query: Record<string, string | string[] | null> }

/** Changes the request before it is signed (`build`) or after (`deserialize`, just before it is sent). */
function rewrite(client: S3Client, step: 'build' | 'deserialize', change: (request: Request) => void) {
  const middleware =
    <T>(next: (args: T) => Promise<unknown>) =>
    async (args: T & { request: unknown }) => {
      change(args.request as Request)
      return next(args)
    }
  if (step === 'build') client.middlewareStack.add(middleware as never, { step: 'build' })
  else client.middlewareStack.add(middleware as never, { step: 'deserialize' })
}

describe('S3 emulator: ListObjectsV2 through the SDK', () => {
  let s3: S3Emulator
  let client: S3Client

  beforeAll(async () => {
    s3 = await startS3Emulator({ buckets: [BUCKET] })
    client = createEmulatorS3Client(s3, { maxAttempts: 1 })
    for (const key of [...UNDER, ...OUTSIDE]) await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }))
  })
  afterAll(async () => {
    client.destroy()
    await s3.stop()
  })

  it('lists exactly the keys under a prefix, page by page with MaxKeys and ContinuationToken', async () => {
    const pages: ListObjectsV2CommandOutput[] = []
    let token: string | undefined
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'list/a/', MaxKeys: 2, ContinuationToken: token }))
      pages.push(page)
      token = page.NextContinuationToken
      expect(page.IsTruncated).toBe(token !== undefined)
    } while (token !== undefined && pages.length < 10)
    expect(pages.map((page) => page.KeyCount)).toEqual([2, 2, 1])
    expect(pages.flatMap((page) => (page.Contents ?? []).map((object) => object.Key))).toEqual([...UNDER].sort())
    expect(pages.every((page) => page.Prefix === 'list/a/')).toBe(true)
  })

  it('refuses a continuation token it did not give, and one changed after signing', async () => {
    const first = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'list/a/', MaxKeys: 1 }))
    const genuine = first.NextContinuationToken ?? ''
    const forged = Buffer.from(JSON.stringify({ bucket: 'another-bucket', after: 'list/a/1.webp' })).toString('base64url')
    for (const token of [forged, 'not-a-token']) {
      await expect(
        client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'list/a/', ContinuationToken: token })),
      ).rejects.toMatchObject({ name: 'InvalidArgument', $metadata: { httpStatusCode: 400 } })
    }
    const tampered = createEmulatorS3Client(s3, { maxAttempts: 1 })
    rewrite(tampered, 'deserialize', (request) => {
      request.query['continuation-token'] = forged
    })
    await expect(
      tampered.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'list/a/', ContinuationToken: genuine })),
    ).rejects.toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } })
    tampered.destroy()
  })

  it('lists nothing under a prefix no key has', async () => {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'list/none/' }))
    expect(page.KeyCount).toBe(0)
    expect(page.Contents ?? []).toEqual([])
    expect(page.IsTruncated).toBe(false)
  })

  it('refuses a listing signed with a wrong secret', async () => {
    const wrong = createEmulatorS3Client({ ...s3, secretAccessKey: 'not-the-secret' }, { maxAttempts: 1 })
    await expect(wrong.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'list/a/' }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    })
    wrong.destroy()
  })

  it('refuses a listing whose query was changed after signing', async () => {
    const tampered = createEmulatorS3Client(s3, { maxAttempts: 1 })
    rewrite(tampered, 'deserialize', (request) => {
      request.query.prefix = 'list/b/'
    })
    await expect(tampered.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'list/a/' }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    })
    tampered.destroy()
  })

  it('refuses a listing sent to another path than the one signed: `/bucket/` against `/bucket`, either way', async () => {
    const signedWithout = createEmulatorS3Client(s3, { maxAttempts: 1 })
    rewrite(signedWithout, 'build', (request) => {
      request.path = `/${BUCKET}`
    })
    rewrite(signedWithout, 'deserialize', (request) => {
      request.path = `/${BUCKET}/`
    })
    const signedWith = createEmulatorS3Client(s3, { maxAttempts: 1 })
    rewrite(signedWith, 'deserialize', (request) => {
      request.path = `/${BUCKET}`
    })
    for (const mismatched of [signedWithout, signedWith]) {
      await expect(mismatched.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'list/a/' }))).rejects.toMatchObject({
        name: 'SignatureDoesNotMatch',
        $metadata: { httpStatusCode: 403 },
      })
      mismatched.destroy()
    }
  })
})
