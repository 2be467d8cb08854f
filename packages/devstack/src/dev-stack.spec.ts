import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { getSignedUrl } from '@aws-sdk/cloudfront-signer'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startDevStack } from './dev-stack.ts'
import { createEmulatorS3Client } from './emulator-s3-client.ts'
import { startEmulatorStack } from './emulator-stack.ts'
import { createTestDatabase } from './testing/test-database.ts'
import type { TestDatabase } from './testing/test-database.ts'
import type { DevStack, S3Endpoint, SqsEndpoint } from './types.ts'
import { waitFor } from './wait-for.ts'

async function receiveAll(sqs: SqsEndpoint): Promise<string[]> {
  const client = new SQSClient({ endpoint: sqs.endpoint, region: sqs.region, credentials: sqs })
  try {
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: sqs.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    )
    return Messages.map((m) => JSON.parse(m.Body ?? '{}').Records[0].s3.object.key as string)
  } finally {
    client.destroy()
  }
}

/**
 * The object keys each queue delivers, received until every queue has at least as many as
 * wanted, then once more, so a message that went to the wrong queue would show.
 */
async function keysDelivered(wanted: Array<[SqsEndpoint, number]>): Promise<string[][]> {
  const keys = wanted.map((): string[] => [])
  const receiveRound = () => Promise.all(wanted.map(async ([sqs], i) => keys[i]?.push(...(await receiveAll(sqs)))))
  await waitFor(async () => {
    await receiveRound()
    return wanted.every(([, count], i) => (keys[i]?.length ?? 0) >= count) ? true : undefined
  })
  await receiveRound()
  return keys
}

describe('dev stacks side by side', () => {
  let database: TestDatabase
  let embedded: DevStack // its own embedded PostgreSQL
  let external: DevStack // an existing server, via databaseUrl

  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseServerUrl'), { migrate: false })
    ;[embedded, external] = await Promise.all([startDevStack(), startDevStack({ databaseUrl: database.url })])
  })
  afterAll(async () => {
    await Promise.all([embedded?.stop(), external?.stop()])
    await database?.drop()
  })

  it('give each stack its own ports and a complete, migrated environment', async () => {
    const urls = [embedded, external].flatMap((s) => [s.database.url, s.s3.endpoint, s.sqs.endpoint, s.cdn.baseUrl, s.identity.issuer])
    expect(new Set(urls).size).toBe(urls.length)
    for (const stack of [embedded, external]) {
      expect(Object.keys(stack.env).sort()).toEqual(
        [
          'AUTH_AUDIENCE',
          'AUTH_ISSUER',
          'AUTH_JWKS_URL',
          'AWS_ACCESS_KEY_ID',
          'AWS_REGION',
          'AWS_SECRET_ACCESS_KEY',
          'CDN_BASE_URL',
          'CDN_MODE',
          'CLOUDFRONT_KEY_PAIR_ID',
          'CLOUDFRONT_PRIVATE_KEY',
          'DATABASE_URL',
          'FAL_BASE_URL',
          'FAL_KEY',
          'FAL_WEBHOOK_JWKS_URL',
          'JOBS_QUEUE_URL',
          'NODE_ENV',
          'S3_BUCKET',
          'S3_ENDPOINT',
          'S3_FORCE_PATH_STYLE',
          'SQS_ENDPOINT',
          'SQS_QUEUE_URL',
        ].sort(),
      )
      expect(stack.env).toMatchObject({ S3_BUCKET: 'images', CDN_MODE: 'cloudfront', S3_FORCE_PATH_STYLE: 'true', NODE_ENV: 'development' })
      expect(stack.env).toMatchObject({ AUTH_ISSUER: stack.identity.issuer, AUTH_JWKS_URL: stack.identity.jwksUrl })
      expect(stack.sqs.queueUrl).toMatch(/\/image-events$/)
      const sql = postgres(stack.database.url, { max: 1, onnotice: () => {} })
      try {
        // migrate() records what it applied; the schema itself is the migrations package's business.
        const [row] = await sql`SELECT count(*)::int AS applied FROM schema_migrations`
        expect(row?.applied).toBeGreaterThan(0)
      } finally {
        await sql.end()
      }
    }
  })

  it('keep objects, events and CDN keys apart', async () => {
    const clientA = createEmulatorS3Client(embedded.s3)
    const clientB = createEmulatorS3Client(external.s3)
    try {
      await clientA.send(new PutObjectCommand({ Bucket: 'images', Key: 'uploads/only-a', Body: 'a', ContentType: 'image/png' }))
      await clientB.send(new PutObjectCommand({ Bucket: 'images', Key: 'uploads/only-b', Body: 'b', ContentType: 'image/png' }))

      const [keysA, keysB] = await keysDelivered([
        [embedded.sqs, 1],
        [external.sqs, 1],
      ])
      expect(keysA).toEqual(['uploads/only-a'])
      expect(keysB).toEqual(['uploads/only-b'])
      await expect(clientB.send(new GetObjectCommand({ Bucket: 'images', Key: 'uploads/only-a' }))).rejects.toMatchObject({
        name: 'NoSuchKey',
      })

      const signedForA = (baseUrl: string) =>
        getSignedUrl({
          url: `${baseUrl}/uploads/only-a`,
          keyPairId: embedded.cdn.keyPairId,
          privateKey: embedded.cdn.privateKeyPem,
          dateLessThan: new Date(Date.now() + 60_000),
        })
      expect((await fetch(signedForA(embedded.cdn.baseUrl))).status).toBe(200)
      expect((await fetch(signedForA(external.cdn.baseUrl))).status).toBe(403)
    } finally {
      clientA.destroy()
      clientB.destroy()
    }
  })
})

describe('emulator stack', () => {
  it('routes each stored object to its own queue only', async () => {
    const [a, b] = await Promise.all([startEmulatorStack(), startEmulatorStack()])
    try {
      const put = (s3: S3Endpoint, Key: string) => {
        const client = createEmulatorS3Client(s3)
        return client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: 'x' })).finally(() => client.destroy())
      }
      await Promise.all([put(a.s3, 'uploads/a1'), put(b.s3, 'uploads/b1'), put(a.s3, 'uploads/a2')])
      const [keysA = [], keysB] = await keysDelivered([
        [a.sqs, 2],
        [b.sqs, 1],
      ])
      expect(keysA.sort()).toEqual(['uploads/a1', 'uploads/a2'])
      expect(keysB).toEqual(['uploads/b1'])
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
    await expect(fetch(a.s3.endpoint)).rejects.toThrow()
    await expect(fetch(a.cdn.baseUrl)).rejects.toThrow()
    await expect(fetch(a.sqs.endpoint)).rejects.toThrow()
  })

  it('keeps S3 objects and the CDN key pair in dataDir across restarts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'devstack-data-'))
    try {
      const first = await startEmulatorStack({ dataDir })
      const client = createEmulatorS3Client(first.s3)
      await client.send(new PutObjectCommand({ Bucket: first.s3.bucket, Key: 'uploads/kept', Body: 'kept' }))
      client.destroy()
      await first.stop()

      const second = await startEmulatorStack({ dataDir })
      const again = createEmulatorS3Client(second.s3)
      try {
        const object = await again.send(new GetObjectCommand({ Bucket: second.s3.bucket, Key: 'uploads/kept' }))
        expect(await object.Body?.transformToString()).toBe('kept')
        expect(second.cdn.keyPairId).toBe(first.cdn.keyPairId)
      } finally {
        again.destroy()
        await second.stop()
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
