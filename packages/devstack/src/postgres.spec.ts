import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { startPostgres } from './postgres.ts'
import { createTestDatabase } from './testing/test-database.ts'

async function query<T extends object>(url: string, run: (sql: postgres.Sql) => Promise<T[]>): Promise<T[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    return await run(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

describe('startPostgres', () => {
  const parents: string[] = []
  afterAll(async () => {
    for (const parent of parents) await rm(parent, { recursive: true, force: true })
  })

  it('keeps data in a persistent dataDir across stop and start', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'pg-persist-spec-'))
    parents.push(parent)
    await chmod(parent, 0o755)
    const dataDir = join(parent, 'data')

    const first = await startPostgres({ dataDir })
    try {
      await query(first.url, (sql) => sql`CREATE TABLE kept (value TEXT)`)
      await query(first.url, (sql) => sql`INSERT INTO kept VALUES ('still here')`)
    } finally {
      await first.stop()
    }

    const second = await startPostgres({ dataDir })
    try {
      const rows = await query(second.url, (sql) => sql<{ value: string }[]>`SELECT value FROM kept`)
      expect(rows.map((row) => row.value)).toEqual(['still here'])
    } finally {
      await second.stop()
    }
  })

  it('fails with a clear error, rather than hanging, when its port is taken', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const address = blocker.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    try {
      await expect(startPostgres({ port })).rejects.toThrow(`PostgreSQL did not start on port ${port}`)
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }
  })
})

describe('createTestDatabase', () => {
  it('creates a migrated database of its own and drops it', async () => {
    const serverUrl = inject('databaseServerUrl')
    const database = await createTestDatabase(serverUrl)
    const name = new URL(database.url).pathname.slice(1)
    expect(name).toMatch(/^t_[0-9a-f]{16}$/)

    const tables = await query(
      database.url,
      (sql) => sql<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    )
    expect(tables.map((row) => row.table_name)).toEqual(
      expect.arrayContaining(['api_keys', 'auth_users', 'image_records', 'schema_migrations']),
    )

    await database.drop()
    const left = await query(serverUrl, (sql) => sql`SELECT 1 FROM pg_database WHERE datname = ${name}`)
    expect(left).toHaveLength(0)
  })

  it('leaves the database empty when migrate is false', async () => {
    const database = await createTestDatabase(inject('databaseServerUrl'), { migrate: false })
    try {
      const tables = await query(
        database.url,
        (sql) => sql`
        SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
      )
      expect(tables).toHaveLength(0)
    } finally {
      await database.drop()
    }
  })
})
