import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '@image-service/devstack'
import { migrate, MigrationChecksumError } from './migrate.ts'
import { MIGRATIONS_DIRECTORY, readMigrationFiles } from './migration-files.ts'

const ALL = [
  '0001_images.sql',
  '0002_failure_reason.sql',
  '0003_image_etag.sql',
  '0004_api_keys.sql',
  '0005_accounts.sql',
  '0006_ownership.sql',
  '0007_quotas.sql',
  '0008_audit_events.sql',
  '0009_variants.sql',
  '0010_lifecycle.sql',
  '0011_processing_jobs.sql',
  '0012_event_delivery.sql',
  '0013_early_fal_webhooks.sql',
  '0014_ready_record_changes.sql',
]

describe('migrate', () => {
  let database: TestDatabase
  let sql: postgres.Sql

  beforeEach(async () => {
    database = await createTestDatabase(inject('databaseServerUrl'), { migrate: false })
    sql = postgres(database.url, { max: 1, onnotice: () => {} })
  })
  afterEach(async () => {
    await sql.end({ timeout: 5 })
    await database.drop()
  })

  const appliedNames = async () => (await sql<{ name: string }[]>`SELECT name FROM schema_migrations ORDER BY name`).map((row) => row.name)

  it('finds the migration files in name order', async () => {
    expect((await readMigrationFiles(MIGRATIONS_DIRECTORY)).map((file) => file.name)).toEqual(ALL)
  })

  it('applies every migration to a fresh database and records each', async () => {
    const messages: string[] = []
    const result = await migrate(database.url, { log: (msg) => messages.push(msg) })

    expect(result.applied).toEqual(ALL)
    expect(await appliedNames()).toEqual(ALL)
    expect(messages).toEqual(ALL.map((name) => `applying ${name}`))
    const columns = await sql<{ column_name: string }[]>`
      SELECT column_name FROM information_schema.columns WHERE table_name = 'image_records'`
    expect(columns.map((column) => column.column_name)).toContain('failure_reason')
  })

  it('does nothing when run again', async () => {
    await migrate(database.url)
    const before = await sql`SELECT name, checksum, applied_at FROM schema_migrations ORDER BY name`

    const again = await migrate(database.url)

    expect(again.applied).toEqual([])
    expect(await sql`SELECT name, checksum, applied_at FROM schema_migrations ORDER BY name`).toEqual(before)
  })

  it('lets concurrent runs take turns so each migration is applied once', async () => {
    const results = await Promise.all([migrate(database.url), migrate(database.url), migrate(database.url)])

    const appliedByRuns = results.flatMap((result) => result.applied).sort()
    expect(appliedByRuns).toEqual(ALL)
    expect(results.filter((result) => result.applied.length > 0)).toHaveLength(1)
    expect(await appliedNames()).toEqual(ALL)
  })

  describe('with a migration edited after it was applied', () => {
    let directory: string
    beforeEach(async () => {
      directory = await mkdtemp(join(tmpdir(), 'migrations-spec-'))
      for (const name of ALL) await cp(join(MIGRATIONS_DIRECTORY, name), join(directory, name))
    })
    afterEach(() => rm(directory, { recursive: true, force: true }))

    it('refuses to run and applies nothing new', async () => {
      // Applied as shipped (later migrations build on it), then edited.
      const original = await readFile(join(directory, '0002_failure_reason.sql'), 'utf8')
      await migrate(database.url, { directory })
      await writeFile(join(directory, '0002_failure_reason.sql'), `${original}-- edited\n`)
      await writeFile(join(directory, '0003_new.sql'), 'CREATE TABLE should_not_exist (id INT);')

      await expect(migrate(database.url, { directory })).rejects.toThrow(MigrationChecksumError)
      await expect(migrate(database.url, { directory })).rejects.toThrow(/0002_failure_reason\.sql/)
      expect(await appliedNames()).toEqual(ALL)
      expect(await sql`SELECT 1 FROM information_schema.tables WHERE table_name = 'should_not_exist'`).toHaveLength(0)
    })
  })

  it('rolls back a failing migration entirely, recording nothing for it', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'migrations-spec-'))
    try {
      await writeFile(join(directory, '0001_ok.sql'), 'CREATE TABLE first_table (id INT);')
      await writeFile(join(directory, '0002_broken.sql'), 'CREATE TABLE second_table (id INT); SELECT no_such_column FROM first_table;')

      await expect(migrate(database.url, { directory })).rejects.toThrow(/no_such_column/)

      expect(await appliedNames()).toEqual(['0001_ok.sql'])
      expect(await sql`SELECT 1 FROM information_schema.tables WHERE table_name = 'second_table'`).toHaveLength(0)
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  })
})
