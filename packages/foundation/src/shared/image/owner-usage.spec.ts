import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '@image-service/devstack'
import { createDatabase, type Database } from '../database/database.ts'
import { newImageId, objectKeyFor, type ImageId } from './image.ts'
import type { RequestContext } from '../identity/request-context.ts'
import type { ImageRepository } from './image-repository.ts'
import { createPostgresImageRepository } from './postgres-image-repository.ts'
import { type OwnerUsage, QuotaExceededError, type QuotaLimits } from './usage.ts'

let testDatabase: TestDatabase
let databases: Database[]
let repositories: ImageRepository[]

beforeAll(async () => {
  testDatabase = await createTestDatabase(inject('databaseServerUrl'))
  // Two pools, so concurrent issuances truly run on separate connections.
  databases = [createDatabase({ url: testDatabase.url, poolMax: 8 }), createDatabase({ url: testDatabase.url, poolMax: 8 })]
  // Two long-lived repositories, like two api replicas: each coalesces its own concurrent
  // issuances (group commit), and the two contend for the same owners' usage rows.
  repositories = databases.map((d) => createPostgresImageRepository(d.db))
})
afterAll(async () => {
  await Promise.all(databases.map((d) => d.close()))
  await testDatabase.drop()
})

const repository = (i = 0) => repositories[i % repositories.length]!
let owners = 0
const newOwner = () => `usage-owner-${++owners}`

function issue(ownerId: string, reservedBytes: number, limits: QuotaLimits, i = 0) {
  const id = newImageId()
  return repository(i).saveWithinQuota(
    { id, ownerId, contentType: 'image/png', fileName: 'a.png', objectKey: objectKeyFor(id), reservedBytes },
    limits,
  )
}

/** What the owner's records add up to: the counters must always equal this. */
async function summedFromRecords(ownerId: string): Promise<OwnerUsage> {
  const [row] = await databases[0]!.sql<{ images: string; bytes: string; reserved_bytes: string }[]>`
    SELECT count(*) FILTER (WHERE status IN ('pending', 'ready')) AS images,
           coalesce(sum(size_bytes + variants_bytes) FILTER (WHERE status = 'ready'), 0) AS bytes,
           coalesce(sum(reserved_bytes) FILTER (WHERE status = 'pending'), 0) AS reserved_bytes
    FROM image_records WHERE owner_id = ${ownerId}`
  return { images: Number(row?.images), bytes: Number(row?.bytes), reservedBytes: Number(row?.reserved_bytes) }
}

async function settled<T>(calls: Promise<T>[]) {
  const results = await Promise.allSettled(calls)
  const fulfilled = results.filter((r) => r.status === 'fulfilled')
  const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
  return { fulfilled, rejected }
}

describe('quota reserved at issuance', () => {
  it('lets exactly 10 of 50 concurrent issuances by one owner succeed when the quota has room for 10, and usage equals the records', async () => {
    const owner = newOwner()
    const limits = { maxImages: 1000, maxBytes: 10 * 100 }
    const { fulfilled, rejected } = await settled(Array.from({ length: 50 }, (_, i) => issue(owner, 100, limits, i)))
    expect(fulfilled).toHaveLength(10)
    expect(rejected).toHaveLength(40)
    for (const error of rejected) expect(error).toBeInstanceOf(QuotaExceededError)
    const usage = await repository().usageOf(owner)
    expect(usage).toEqual({ images: 10, bytes: 0, reservedBytes: 1000 })
    expect(usage).toEqual(await summedFromRecords(owner))
  })

  it('holds the image count as exactly under concurrency', async () => {
    const owner = newOwner()
    const { fulfilled } = await settled(Array.from({ length: 50 }, (_, i) => issue(owner, 1, { maxImages: 10, maxBytes: 1_000_000 }, i)))
    expect(fulfilled).toHaveLength(10)
    expect(await repository().usageOf(owner)).toEqual(await summedFromRecords(owner))
  })

  it('keeps 5 owners issuing at once apart: no owner changes another owner usage', async () => {
    const owners5 = Array.from({ length: 5 }, () => newOwner())
    // Owner k has room for k + 1 uploads of 100 bytes.
    const calls = owners5.flatMap((owner, k) =>
      Array.from({ length: 20 }, (_, i) => issue(owner, 100, { maxImages: 1000, maxBytes: (k + 1) * 100 }, i + k)),
    )
    await settled(calls)
    for (const [k, owner] of owners5.entries()) {
      const usage = await repository().usageOf(owner)
      expect(usage).toEqual({ images: k + 1, bytes: 0, reservedBytes: (k + 1) * 100 })
      expect(usage).toEqual(await summedFromRecords(owner))
    }
  })

  it('says which limit was hit', async () => {
    const owner = newOwner()
    await issue(owner, 600, { maxImages: 1, maxBytes: 1000 })
    await expect(issue(owner, 1, { maxImages: 1, maxBytes: 1000 })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED', limit: 'images' })
    const bytes = await issue(owner, 500, { maxImages: 10, maxBytes: 1000 }).catch((e: unknown) => e)
    expect(bytes).toMatchObject({ code: 'QUOTA_EXCEEDED', limit: 'bytes', message: expect.stringContaining('max_bytes 1000') })
    // A first-time owner whose single reservation is over the byte limit is refused too.
    await expect(issue(newOwner(), 2000, { maxImages: 10, maxBytes: 1000 })).rejects.toMatchObject({ limit: 'bytes' })
  })
})

describe('a pending reservation', () => {
  const limits = { maxImages: 100, maxBytes: 1_000_000 }

  async function pending(owner: string, reservedBytes: number): Promise<ImageId> {
    return (await issue(owner, reservedBytes, limits)).id
  }

  it('shows in reserved_bytes until validated, then the real size counts instead', async () => {
    const owner = newOwner()
    const id = await pending(owner, 5000)
    expect(await repository().usageOf(owner)).toEqual({ images: 1, bytes: 0, reservedBytes: 5000 })
    await repository().transitionFromPending(id, { status: 'ready', sizeBytes: 1234, etag: '"e"' })
    expect(await repository().usageOf(owner)).toEqual({ images: 1, bytes: 1234, reservedBytes: 0 })
    // A duplicate delivery changes nothing.
    await repository().transitionFromPending(id, { status: 'ready', sizeBytes: 1234, etag: '"e"' })
    expect(await repository().usageOf(owner)).toEqual(await summedFromRecords(owner))
    expect(await repository().usageOf(owner)).toEqual({ images: 1, bytes: 1234, reservedBytes: 0 })
  })

  it('is released when the upload fails', async () => {
    const owner = newOwner()
    const id = await pending(owner, 5000)
    await repository().transitionFromPending(id, { status: 'failed', failureReason: 'corrupt' })
    expect(await repository().usageOf(owner)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
  })

  it('is released when the pending upload is deleted; a ready image gives its bytes back; a failed one held nothing', async () => {
    const owner = newOwner()
    const [a, b, c] = [await pending(owner, 100), await pending(owner, 200), await pending(owner, 300)]
    await repository().transitionFromPending(b, { status: 'ready', sizeBytes: 50, etag: '"b"' })
    await repository().transitionFromPending(c, { status: 'failed', failureReason: 'corrupt' })
    expect(await repository().usageOf(owner)).toEqual({ images: 2, bytes: 50, reservedBytes: 100 })

    await repository().markDeleted(a)
    expect(await repository().usageOf(owner)).toEqual({ images: 1, bytes: 50, reservedBytes: 0 })
    await repository().markDeleted(b)
    await repository().markDeleted(c)
    expect(await repository().usageOf(owner)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
    // Deleting again gives nothing back twice.
    await repository().markDeleted(b)
    expect(await repository().usageOf(owner)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
  })

  it('a replaced ready image leaves the usage', async () => {
    const owner = newOwner()
    const id = await pending(owner, 100)
    await repository().transitionFromPending(id, { status: 'ready', sizeBytes: 70, etag: '"v1"' })
    await repository().failReplaced(id, '"v1"')
    expect(await repository().usageOf(owner)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
  })

  it('racing a delete against validation counts exactly once, whichever wins', async () => {
    // Several rounds: a wrong order of the two usage updates shows in most of them.
    for (let round = 0; round < 8; round++) {
      const owner = newOwner()
      const ids = await Promise.all(Array.from({ length: 10 }, () => pending(owner, 100)))
      await Promise.all(
        ids.flatMap((id, i) => [
          repository(i).transitionFromPending(id, { status: 'ready', sizeBytes: 10, etag: '"e"' }),
          repository(i + 1).markDeleted(id),
        ]),
      )
      expect(await repository().usageOf(owner)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
      expect(await summedFromRecords(owner)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
    }
  })

  it('answers zeros for an owner who never issued anything', async () => {
    expect(await repository().usageOf(newOwner())).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
  })
})

describe('issuances written together (group commit)', () => {
  const newRecord = (ownerId: string, reservedBytes: number, objectKey?: string) => {
    const id = newImageId()
    return { id, ownerId, contentType: 'image/png' as const, fileName: 'a.png', objectKey: objectKey ?? objectKeyFor(id), reservedBytes }
  }
  /** The transaction ids that wrote these records: one per batch that committed them. */
  async function writtenBy(ids: readonly ImageId[]) {
    const rows = await databases[0]!.sql<{ xmin: string }[]>`SELECT xmin::text FROM image_records WHERE id = ANY(${[...ids]}::text[])`
    return new Set(rows.map((r) => r.xmin))
  }

  it('commits issuances that arrive together in one transaction, and decides each as if one by one', async () => {
    // A fresh repository, so nothing else is in flight: the three arrive in one turn and form one batch.
    const images = createPostgresImageRepository(databases[0]!.db)
    const owner = newOwner()
    const limits = { maxImages: 10, maxBytes: 1000 }
    const records = [newRecord(owner, 900), newRecord(owner, 900), newRecord(owner, 50)]
    const results = await Promise.allSettled(records.map((r) => images.saveWithinQuota(r, limits)))
    // The second does not fit after the first; the third still does, though it came after a refusal.
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      limit: 'bytes',
      message: expect.stringContaining('900 reserved, plus 900'),
    })
    expect(await writtenBy([records[0]!.id, records[2]!.id])).toHaveProperty('size', 1)
    expect(await images.usageOf(owner)).toEqual({ images: 2, bytes: 0, reservedBytes: 950 })
    expect(await images.usageOf(owner)).toEqual(await summedFromRecords(owner))
  })

  it('appends the events and audit rows of a batch in arrival order', async () => {
    const images = createPostgresImageRepository(databases[0]!.db)
    const owners3 = [newOwner(), newOwner(), newOwner()]
    const records = [owners3[2]!, owners3[0]!, owners3[1]!, owners3[0]!].map((owner) => newRecord(owner, 10))
    const ctx = (i: number): RequestContext => ({
      actor: { type: 'user', ownerId: records[i]!.ownerId, admin: false, via: 'jwt' },
      requestId: `req-${i}`,
      clientIp: '192.0.2.1',
    })
    await Promise.all(records.map((r, i) => images.saveWithinQuota(r, { maxImages: 10, maxBytes: 1000 }, ctx(i))))
    const ids = records.map((r) => r.id)
    expect(await writtenBy(ids)).toHaveProperty('size', 1)
    const events = await databases[0]!.sql<{ subject_id: string }[]>`
      SELECT subject_id FROM events WHERE subject_id = ANY(${ids}::text[]) ORDER BY id`
    expect(events.map((e) => e.subject_id)).toEqual(ids)
    const audit = await databases[0]!.sql<{ image_id: string; request_id: string; owner_id: string }[]>`
      SELECT image_id, request_id, owner_id FROM audit_events WHERE image_id = ANY(${ids}::text[]) AND action = 'upload.issued' ORDER BY id`
    expect(audit).toEqual(records.map((r, i) => ({ image_id: r.id, request_id: `req-${i}`, owner_id: r.ownerId })))
  })

  it('fails only the record that breaks a constraint; the rest of its batch is written', async () => {
    const images = createPostgresImageRepository(databases[0]!.db)
    const owner = newOwner()
    const limits = { maxImages: 10, maxBytes: 1000 }
    const first = newRecord(owner, 10)
    // Same object key as the first: the unique constraint fails the batch's statement.
    const clash = newRecord(owner, 10, first.objectKey)
    const other = newRecord(owner, 10)
    const results = await Promise.allSettled([first, clash, other].map((r) => images.saveWithinQuota(r, limits)))
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23505' })
    expect(await images.usageOf(owner)).toEqual({ images: 2, bytes: 0, reservedBytes: 20 })
    expect(await images.usageOf(owner)).toEqual(await summedFromRecords(owner))
  })

  it('carries any text through the batch unchanged: quotes, backslashes, commas, braces, NULL-looking words', async () => {
    const images = createPostgresImageRepository(databases[0]!.db)
    const owner = newOwner()
    const awkward = ['a "quoted" name.png', 'back\\slash\\.png', 'comma, {brace} }{.png', 'NULL', 'ünïcødé 🖼.png']
    const records = awkward.map((fileName) => ({ ...newRecord(owner, 1), fileName, labels: { note: fileName } }))
    const saved = await Promise.all(records.map((r) => images.saveWithinQuota(r, { maxImages: 10, maxBytes: 1000 })))
    expect(saved.map((r) => [r.fileName, r.labels])).toEqual(awkward.map((name) => [name, { note: name }]))
    for (const record of records)
      expect(await images.findById(record.id)).toMatchObject({ fileName: record.fileName, labels: record.labels })
  })

  it('recreates an owner usage row that was removed after this process first saw it', async () => {
    const images = createPostgresImageRepository(databases[0]!.db)
    const owner = newOwner()
    const limits = { maxImages: 10, maxBytes: 1000 }
    await images.saveWithinQuota(newRecord(owner, 10), limits)
    // As an erasure leaves it: no records, no usage row.
    await databases[0]!.sql`DELETE FROM image_records WHERE owner_id = ${owner}`
    await databases[0]!.sql`DELETE FROM owner_usage WHERE owner_id = ${owner}`
    await images.saveWithinQuota(newRecord(owner, 20), limits)
    expect(await images.usageOf(owner)).toEqual({ images: 1, bytes: 0, reservedBytes: 20 })
    expect(await images.usageOf(owner)).toEqual(await summedFromRecords(owner))
  })
})

describe("variants' bytes in the usage", () => {
  const derivatives = {
    width: 40,
    height: 30,
    variants: [
      { name: 'thumbnail', format: 'webp' as const, width: 40, height: 30, sizeBytes: 70 },
      { name: 'medium', format: 'webp' as const, width: 40, height: 30, sizeBytes: 30 },
    ],
    placeholder: 'AAAA',
    metadataRemoved: ['exif' as const, 'gps' as const],
  }

  it('stores what was derived with the ready record, counts the variants with the original, and releases both on delete', async () => {
    const owner = newOwner()
    const record = await issue(owner, 500, { maxImages: 10, maxBytes: 10_000 })
    const ready = await repository().transitionFromPending(record.id, { status: 'ready', sizeBytes: 400, etag: '"e"', derivatives })
    expect(ready).toMatchObject({ status: 'ready', width: 40, height: 30, placeholder: 'AAAA', metadataRemoved: ['exif', 'gps'] })
    expect(ready?.variants).toEqual(derivatives.variants)
    expect(await repository(1).findById(record.id)).toMatchObject({ variants: derivatives.variants, metadataRemoved: ['exif', 'gps'] })
    expect(await repository().usageOf(owner)).toEqual({ images: 1, bytes: 500, reservedBytes: 0 })
    expect(await repository().usageOf(owner)).toEqual(await summedFromRecords(owner))

    await repository().markDeleted(record.id)
    expect(await repository().usageOf(owner)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
  })

  it('releases the variants with the original when a ready image is replaced', async () => {
    const owner = newOwner()
    const record = await issue(owner, 500, { maxImages: 10, maxBytes: 10_000 })
    await repository().transitionFromPending(record.id, { status: 'ready', sizeBytes: 400, etag: '"e"', derivatives })
    await repository().failReplaced(record.id, '"e"')
    expect(await repository().usageOf(owner)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
    expect(await repository().usageOf(owner)).toEqual(await summedFromRecords(owner))
  })
})
