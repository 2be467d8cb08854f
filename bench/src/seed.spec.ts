import { createTestDatabase, startDevIdentityProvider, type TestDatabase } from '@image-service/devstack'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { seedOwners } from './owners.ts'
import { createSeeder } from './seed.ts'

/** A migrated database whose image_records has (or lacks) owner_id, whatever the migrations say. */
async function databaseWith(ownerColumn: boolean): Promise<{ db: TestDatabase; sql: postgres.Sql }> {
  const db = await createTestDatabase(inject('databaseServerUrl'))
  const sql = postgres(db.url, { max: 2, onnotice: () => {} })
  if (ownerColumn) await sql`ALTER TABLE image_records ADD COLUMN IF NOT EXISTS owner_id TEXT`
  else await sql`ALTER TABLE image_records DROP COLUMN IF EXISTS owner_id CASCADE`
  return { db, sql }
}

describe.each([false, true])('the bench seed, owner_id column present: %s', (ownerColumn) => {
  let db: TestDatabase
  let sql: postgres.Sql
  beforeAll(async () => {
    ;({ db, sql } = await databaseWith(ownerColumn))
  })
  afterAll(async () => {
    await sql?.end()
    await db?.drop()
  })

  it('inserts one ready record per owner given, and one pending record per owner given', async () => {
    const seeder = await createSeeder(sql)
    const ready = await seeder.ready(['a', 'b', 'a'])
    const pending = await seeder.pending(['b'], 'image/png')
    const rows = await sql`SELECT * FROM image_records WHERE id = ANY(${[...ready, ...pending]})`
    const statuses = Object.fromEntries(rows.map((r) => [r.id, r.status]))
    expect([ready.map((id) => statuses[id]), pending.map((id) => statuses[id])]).toEqual([['ready', 'ready', 'ready'], ['pending']])
    const owners = Object.fromEntries(rows.map((r) => [r.id, r.owner_id]))
    if (ownerColumn) {
      expect([ready.map((id) => owners[id]), pending.map((id) => owners[id])]).toEqual([['a', 'b', 'a'], ['b']])
    } else {
      expect(rows.every((r) => !('owner_id' in r))).toBe(true)
    }
  })
})

describe('bench owners', () => {
  let db: TestDatabase
  let sql: postgres.Sql
  beforeAll(async () => {
    ;({ db, sql } = await databaseWith(true))
  })
  afterAll(async () => {
    await sql?.end()
    await db?.drop()
  })

  it('deals the images out among the owners, each with a token for its own subject', async () => {
    const identity = await startDevIdentityProvider({ audience: 'bench' })
    try {
      const owners = await seedOwners(identity, await createSeeder(sql), { ownerCount: 3, imageCount: 10 })
      expect(owners.map((o) => [o.subject, o.imageIds.length])).toEqual([
        ['bench-owner-1', 4],
        ['bench-owner-2', 3],
        ['bench-owner-3', 3],
      ])
      for (const owner of owners) {
        const payload = JSON.parse(Buffer.from(owner.authorization.split('.')[1] as string, 'base64url').toString())
        expect(owner.authorization.startsWith('Bearer ')).toBe(true)
        expect(payload).toMatchObject({ sub: owner.subject, aud: 'bench', iss: identity.issuer })
        const rows = await sql`SELECT DISTINCT owner_id FROM image_records WHERE id = ANY(${owner.imageIds})`
        expect(rows.map((r) => r.owner_id)).toEqual([owner.subject])
      }
    } finally {
      await identity.stop()
    }
  })
})
