import { drizzle } from 'drizzle-orm/postgres-js'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { closedPort, createTestDatabase, type TestDatabase } from '@image-service/devstack'
import { DependencyUnavailableError } from '../../common/errors.ts'
import { createDatabase, type Database } from '../database/database.ts'
import { schema } from '../database/schema.ts'
import { newImageId, objectKeyFor, type ImageId, type NewImageRecord } from './image.ts'
import { createPostgresImageRepository } from './postgres-image-repository.ts'

let testDatabase: TestDatabase
let database: Database
let raceDatabase: Database

beforeAll(async () => {
  testDatabase = await createTestDatabase(inject('databaseServerUrl'))
  database = createDatabase({ url: testDatabase.url, poolMax: 4 })
  // A second pool, so racing transitions truly run on separate connections.
  raceDatabase = createDatabase({ url: testDatabase.url, poolMax: 4 })
})
afterAll(async () => {
  await Promise.all([database.close(), raceDatabase.close()])
  await testDatabase.drop()
})

const repository = () => createPostgresImageRepository(database.db)

function newRecord(overrides: Partial<NewImageRecord> = {}): NewImageRecord {
  const id = newImageId()
  return { id, ownerId: 'owner-a', contentType: 'image/png', fileName: 'cat photo.png', objectKey: objectKeyFor(id), ...overrides }
}

/** Moves both timestamps an hour back, so a later now() is strictly greater without waiting. */
async function ageRecord(id: ImageId): Promise<Date> {
  // Raw postgres.js returns timestamps as text once drizzle shares the client (see database.ts).
  const [row] = await database.sql<{ updated_at: string }[]>`
    UPDATE image_records SET created_at = now() - interval '1 hour', updated_at = now() - interval '1 hour'
    WHERE id = ${id} RETURNING updated_at`
  if (row === undefined) throw new Error(`no record ${id}`)
  return new Date(row.updated_at)
}

describe('save and find', () => {
  it('saves a pending record with unknown size and finds it by id', async () => {
    const record = newRecord({ contentType: 'image/avif', fileName: 'émoji 🐈.avif' })
    const saved = await repository().save(record)

    expect(saved).toMatchObject({ ...record, status: 'pending', sizeBytes: null, failureReason: null, etag: null })
    expect(saved.createdAt).toBeInstanceOf(Date)
    expect(saved.updatedAt).toEqual(saved.createdAt)
    expect(await repository().findById(record.id)).toEqual(saved)
    const [raw] = await database.sql<{ size_bytes: string | null }[]>`SELECT size_bytes FROM image_records WHERE id = ${record.id}`
    expect(raw?.size_bytes).toBeNull()
  })

  it('returns null for an unknown id', async () => {
    expect(await repository().findById(newImageId())).toBeNull()
  })

  it('finds many ids at once, once each, skipping missing ones', async () => {
    const [a, b] = [newRecord(), newRecord()]
    await repository().save(a)
    await repository().save(b)

    const found = await repository().findOwnedByIds('owner-a', [a.id, newImageId(), b.id, a.id, a.id])

    expect(found.map((record) => record.id).sort()).toEqual([a.id, b.id].sort())
  })

  it('asks the database once, with one array parameter, and not at all for no ids', async () => {
    const queries: { query: string; params: unknown[] }[] = []
    const logged = drizzle({ client: database.sql, schema, logger: { logQuery: (query, params) => queries.push({ query, params }) } })
    const images = createPostgresImageRepository(logged)
    const ids = [newImageId(), newImageId(), newImageId()]

    await images.findOwnedByIds('owner-a', [])
    expect(queries).toEqual([])
    await images.findOwnedByIds('owner-a', [...ids, ids[0]!])

    expect(queries).toHaveLength(1)
    expect(queries[0]?.query).toMatch(/= ANY\(\$1::text\[\]\) and "image_records"."owner_id" = \$2\)$/)
    expect(queries[0]?.params).toEqual([ids, 'owner-a'])
  })

  it('returns nothing for no ids or only unknown ids', async () => {
    expect(await repository().findOwnedByIds('owner-a', [])).toEqual([])
    expect(await repository().findOwnedByIds('owner-a', [newImageId(), newImageId()])).toEqual([])
  })
})

describe('transitionFromPending', () => {
  it('marks a pending record ready with its size and moves updated_at', async () => {
    const record = newRecord()
    await repository().save(record)
    const agedUpdatedAt = await ageRecord(record.id)

    const ready = await repository().transitionFromPending(record.id, { status: 'ready', sizeBytes: 3_000_000_000, etag: '"e1"' })

    expect(ready).toMatchObject({ id: record.id, status: 'ready', sizeBytes: 3_000_000_000, failureReason: null, etag: '"e1"' })
    expect(ready?.updatedAt.getTime()).toBeGreaterThan(agedUpdatedAt.getTime())
    expect(ready?.updatedAt.getTime()).toBeGreaterThan(ready?.createdAt.getTime() ?? Infinity)
    expect(await repository().findById(record.id)).toEqual(ready)
  })

  it('marks a pending record failed with its reason', async () => {
    const record = newRecord()
    await repository().save(record)
    const agedUpdatedAt = await ageRecord(record.id)

    const failed = await repository().transitionFromPending(record.id, { status: 'failed', failureReason: 'type_mismatch' })

    expect(failed).toMatchObject({ status: 'failed', sizeBytes: null, failureReason: 'type_mismatch', etag: null })
    expect(failed?.updatedAt.getTime()).toBeGreaterThan(agedUpdatedAt.getTime())
  })

  it.each([
    ['ready', { status: 'ready', sizeBytes: 10, etag: '"e"' }, { status: 'failed', failureReason: 'corrupt' }],
    ['failed', { status: 'failed', failureReason: 'truncated' }, { status: 'ready', sizeBytes: 99, etag: '"e"' }],
  ] as const)('never changes a record that is already %s', async (_, first, second) => {
    const record = newRecord()
    await repository().save(record)
    await repository().transitionFromPending(record.id, first)
    await ageRecord(record.id)
    const before = await repository().findById(record.id)

    expect(await repository().transitionFromPending(record.id, second)).toBeNull()
    expect(await repository().transitionFromPending(record.id, first)).toBeNull()
    expect(await repository().findById(record.id)).toEqual(before)
  })

  it('returns null for an unknown id', async () => {
    expect(await repository().transitionFromPending(newImageId(), { status: 'ready', sizeBytes: 1, etag: '"e"' })).toBeNull()
  })

  it('lets exactly one of many concurrent transitions win', async () => {
    const record = newRecord()
    await repository().save(record)
    const repositories = [createPostgresImageRepository(database.db), createPostgresImageRepository(raceDatabase.db)]

    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        repositories[i % 2]!.transitionFromPending(
          record.id,
          i % 2 === 0 ? { status: 'ready', sizeBytes: 1000 + i, etag: `"e${i}"` } : { status: 'failed', failureReason: 'corrupt' },
        ),
      ),
    )

    const winners = results.filter((result) => result !== null)
    expect(winners).toHaveLength(1)
    expect(await repository().findById(record.id)).toEqual(winners[0])
  })
})

describe('failReplaced', () => {
  async function readyRecord(etag: string): Promise<ImageId> {
    const record = newRecord()
    await repository().save(record)
    await repository().transitionFromPending(record.id, { status: 'ready', sizeBytes: 10, etag })
    return record.id
  }

  it('fails a ready record whose stored ETag is the approved one as replaced, and moves updated_at', async () => {
    const id = await readyRecord('"approved"')
    const agedUpdatedAt = await ageRecord(id)

    const failed = await repository().failReplaced(id, '"approved"')

    expect(failed).toMatchObject({ id, status: 'failed', failureReason: 'replaced', sizeBytes: 10, etag: '"approved"' })
    expect(failed?.updatedAt.getTime()).toBeGreaterThan(agedUpdatedAt.getTime())
    expect(await repository().findById(id)).toEqual(failed)
  })

  it('changes nothing for another ETag, a record that is not ready, or an unknown id', async () => {
    const ready = await readyRecord('"approved"')
    const pending = newRecord()
    await repository().save(pending)
    const before = await repository().findById(ready)

    expect(await repository().failReplaced(ready, '"other"')).toBeNull()
    expect(await repository().failReplaced(pending.id, '"approved"')).toBeNull()
    expect(await repository().failReplaced(newImageId(), '"approved"')).toBeNull()
    expect(await repository().findById(ready)).toEqual(before)
    expect(await repository().findById(pending.id)).toMatchObject({ status: 'pending' })
  })

  it('lets exactly one of many concurrent deliveries win', async () => {
    const id = await readyRecord('"approved"')
    const repositories = [createPostgresImageRepository(database.db), createPostgresImageRepository(raceDatabase.db)]

    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => repositories[i % 2]!.failReplaced(id, '"approved"')))

    expect(results.filter((result) => result !== null)).toHaveLength(1)
    expect(await repository().findById(id)).toMatchObject({ status: 'failed', failureReason: 'replaced' })
  })
})

describe('during a database outage', () => {
  it('raises DependencyUnavailableError instead of a driver error', async () => {
    const port = await closedPort()
    const down = createDatabase({ url: `postgres://postgres@127.0.0.1:${port}/images`, poolMax: 1, connectTimeoutSeconds: 1 })
    try {
      const images = createPostgresImageRepository(down.db, { deadlineMs: 2000 })
      for (const call of [
        () => images.findById(newImageId()),
        () => images.save(newRecord()),
        () => images.findOwnedByIds('owner-a', [newImageId()]),
      ]) {
        await expect(call()).rejects.toBeInstanceOf(DependencyUnavailableError)
      }
      await expect(images.transitionFromPending(newImageId(), { status: 'ready', sizeBytes: 1, etag: '"e"' })).rejects.toMatchObject({
        code: 'DATABASE_UNAVAILABLE',
      })
      await expect(images.failReplaced(newImageId(), '"e"')).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' })
    } finally {
      await down.sql.end({ timeout: 0 })
    }
  })
})

describe('ownership, labels and listing', () => {
  it('finds a batch of one owner only', async () => {
    const [mine, theirs] = [newRecord({ ownerId: 'lister-a' }), newRecord({ ownerId: 'lister-b' })]
    await repository().save(mine)
    await repository().save(theirs)
    expect((await repository().findOwnedByIds('lister-a', [mine.id, theirs.id])).map((r) => r.id)).toEqual([mine.id])
  })

  it('lists an owner newest first, filtered by status, source and labels, one keyset page at a time', async () => {
    const owner = `lister-${newImageId()}`
    const saved: ImageId[] = []
    const pages: Record<string, string>[] = [
      { feature: 'templates' },
      { feature: 'cards', batch_id: 'b42' },
      { feature: 'cards', batch_id: 'b43' },
    ]
    for (const labels of pages) {
      const record = newRecord({ ownerId: owner, labels })
      await repository().save(record)
      saved.push(record.id)
    }
    const [templates, b42, b43] = saved as [ImageId, ImageId, ImageId]
    await repository().save(newRecord({ ownerId: 'someone-else', labels: { feature: 'cards' } }))

    const all = await repository().list({ ownerId: owner, limit: 10 })
    expect(all.map((r) => r.id)).toEqual([b43, b42, templates])
    expect(all[1]?.labels).toEqual({ feature: 'cards', batch_id: 'b42' })
    expect((await repository().list({ ownerId: owner, labels: { feature: 'cards' }, limit: 10 })).map((r) => r.id)).toEqual([b43, b42])
    expect(
      (await repository().list({ ownerId: owner, labels: { feature: 'cards', batch_id: 'b42' }, limit: 10 })).map((r) => r.id),
    ).toEqual([b42])
    expect((await repository().list({ ownerId: owner, before: b43, limit: 1 })).map((r) => r.id)).toEqual([b42])

    await repository().markDeleted(b42)
    expect((await repository().list({ ownerId: owner, limit: 10 })).map((r) => r.id)).toEqual([b43, templates])
    expect((await repository().list({ ownerId: owner, status: 'deleted', limit: 10 })).map((r) => r.id)).toEqual([b42])

    const derived = newRecord({ ownerId: owner, sourceImageId: templates, jobId: 'job-1' })
    await repository().save(derived)
    expect(await repository().list({ ownerId: owner, sourceImageId: templates, limit: 10 })).toEqual([
      expect.objectContaining({ id: derived.id, sourceImageId: templates, jobId: 'job-1' }),
    ])
  })

  it('marks a record deleted once; a second time answers null', async () => {
    const record = newRecord()
    await repository().save(record)
    expect(await repository().markDeleted(record.id)).toMatchObject({ id: record.id, status: 'deleted' })
    expect(await repository().markDeleted(record.id)).toBeNull()
    expect(await repository().markDeleted(newImageId())).toBeNull()
  })
})
