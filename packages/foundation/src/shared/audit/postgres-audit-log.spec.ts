import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { closedPort, createTestDatabase, type TestDatabase } from '@image-service/devstack'
import { createDatabase, type Database } from '../database/database.ts'
import { userContext } from '../identity/request-context.ts'
import { createPostgresAuditLog, createPostgresAuditRepository } from './postgres-audit-log.ts'

let testDatabase: TestDatabase
let database: Database

beforeAll(async () => {
  testDatabase = await createTestDatabase(inject('databaseServerUrl'))
  database = createDatabase({ url: testDatabase.url, poolMax: 2 })
})
afterAll(async () => {
  await database.close()
  await testDatabase.drop()
})

const count = async (ownerId: string) =>
  Number((await database.sql<{ n: string }[]>`SELECT count(*) AS n FROM audit_events WHERE owner_id = ${ownerId}`)[0]?.n)

describe('PostgreSQL audit log', () => {
  it('writes queued rows in batches, and close() writes whatever is still queued', async () => {
    // A delay no test waits for: only close() can write these.
    const log = createPostgresAuditLog(database.db, { delayMs: 3_600_000, batchSize: 2 })
    const ctx = { ...userContext('audit-log-a', { requestId: 'req-1' }), clientIp: '10.0.0.7' }
    for (let i = 0; i < 5; i++) log.record(ctx, { action: 'download.signed', ownerId: 'audit-log-a', imageId: null, detail: { i } })
    await log.close()
    expect(await count('audit-log-a')).toBe(5)
    const rows = await createPostgresAuditRepository(database.db).list({ ownerId: 'audit-log-a', limit: 10 })
    expect(rows.map((r) => r.detail)).toEqual([{ i: 4 }, { i: 3 }, { i: 2 }, { i: 1 }, { i: 0 }])
    expect(rows[0]).toMatchObject({ requestId: 'req-1', clientIp: '10.0.0.7', actor: { type: 'user', id: 'audit-log-a', via: 'jwt' } })
  })

  it('writes a queued row on its own shortly after', async () => {
    const log = createPostgresAuditLog(database.db, { delayMs: 1 })
    log.record(userContext('audit-log-b'), { action: 'download.signed', ownerId: 'audit-log-b' })
    await expect.poll(() => count('audit-log-b')).toBe(1)
    await log.close()
  })

  it('keeps rows a failed flush could not write, and says so at close', async () => {
    const dead = createDatabase({ url: `postgres://u:p@127.0.0.1:${await closedPort()}/db`, poolMax: 1, connectTimeoutSeconds: 1 })
    const log = createPostgresAuditLog(dead.db, { delayMs: 3_600_000 })
    log.record(userContext('audit-log-c'), { action: 'download.signed', ownerId: 'audit-log-c' })
    await expect(log.flush()).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' })
    // Still queued: a later flush (or close) tries it again.
    await expect(log.close()).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' })
    await dead.close()
  })
})
