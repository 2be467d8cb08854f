import postgres from 'postgres'
import { MIGRATIONS_DIRECTORY, readMigrationFiles, type MigrationFile } from './migration-files.ts'

export type MigrateOptions = {
  log?: (msg: string) => void
  /** Where the *.sql files are; defaults to this package's folder. Tests point it elsewhere. */
  directory?: string
}

/**
 * Arbitrary but fixed key of the session-level advisory lock that serialises migration runs:
 * several api replicas may start at once, and only one of them may apply anything.
 */
const MIGRATION_LOCK_KEY = 7_201_463_315n

export class MigrationChecksumError extends Error {
  constructor(names: string[]) {
    super(
      `applied migration(s) changed since they were applied: ${names.join(', ')}. ` +
        'Never edit an applied migration; add a new one instead.',
    )
    this.name = 'MigrationChecksumError'
  }
}

type AppliedRow = { name: string; checksum: string }

/** Applies the pending *.sql migrations in name order, each once and in its own transaction. */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const log = options.log ?? (() => {})
  const files = await readMigrationFiles(options.directory ?? MIGRATIONS_DIRECTORY)
  // One connection: a session advisory lock belongs to the connection that took it.
  const sql = postgres(databaseUrl, { max: 1, connect_timeout: 10, onnotice: () => {} })
  try {
    await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`
    try {
      return { applied: await applyPending(sql, files, log) }
    } finally {
      // If the connection is gone the lock went with it; do not mask the original error.
      await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY.toString()}::bigint)`.catch(() => {})
    }
  } finally {
    await sql.end({ timeout: 5 })
  }
}

async function applyPending(sql: postgres.Sql, files: MigrationFile[], log: (msg: string) => void): Promise<string[]> {
  // Created under the lock, so two first runs cannot race on CREATE TABLE.
  await sql`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      name       TEXT        PRIMARY KEY,
      checksum   TEXT        NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`
  const appliedRows = await sql<AppliedRow[]>`SELECT name, checksum FROM schema_migrations`
  const applied = new Map(appliedRows.map((row) => [row.name, row.checksum]))

  const changed = files.filter((file) => applied.has(file.name) && applied.get(file.name) !== file.checksum)
  if (changed.length > 0) throw new MigrationChecksumError(changed.map((file) => file.name))

  const pending = files.filter((file) => !applied.has(file.name))
  if (pending.length === 0) log('database schema is up to date')
  for (const file of pending) {
    log(`applying ${file.name}`)
    await sql.begin(async (tx) => {
      // Simple protocol: a migration file may hold several statements.
      await tx.unsafe(file.sql).simple()
      await tx`INSERT INTO schema_migrations (name, checksum) VALUES (${file.name}, ${file.checksum})`
    })
  }
  return pending.map((file) => file.name)
}
