import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import type { Logger } from '../../common/logger.ts'
import { withDatabaseErrors } from './database-errors.ts'
import { schema } from './schema.ts'
import { createRunInTransaction, type RunInTransaction } from './transaction.ts'

/** Drizzle over the pool; `$client` is the pool itself, for statements drizzle cannot build. */
export type DrizzleDatabase = PostgresJsDatabase<typeof schema> & { $client: postgres.Sql }

export type Database = {
  /**
   * The raw pool, for what drizzle cannot express. Note: drizzle's postgres-js driver makes this
   * client return date/time columns as strings (drizzle parses them itself), so raw queries get
   * timestamps as ISO-like text, not Date.
   */
  sql: postgres.Sql
  db: DrizzleDatabase
  /** Runs work in one transaction, with a deadline whose meaning is exact (see createRunInTransaction). */
  transaction: RunInTransaction
  /** Resolves when the server answers a trivial query; throws DependencyUnavailableError otherwise. */
  ping(): Promise<void>
  /** Ends the pool, letting running queries finish for a few seconds. */
  close(): Promise<void>
}

export type DatabaseOptions = {
  url: string
  poolMax: number
  log?: Logger
  /** Seconds to wait for a connection. Short, so an outage answers requests quickly instead of hanging. */
  connectTimeoutSeconds?: number
}

export function createDatabase(options: DatabaseOptions): Database {
  const log = options.log
  const connectTimeoutSeconds = options.connectTimeoutSeconds ?? 5
  const sql = postgres(options.url, {
    max: options.poolMax,
    connect_timeout: connectTimeoutSeconds,
    // Give idle connections back so a quiet replica does not pin server slots.
    idle_timeout: 60,
    onnotice: (notice) => log?.debug({ notice: notice.message }, 'postgres notice'),
  })
  const db = drizzle({ client: sql, schema })
  let closing: Promise<void> | undefined

  return {
    sql,
    db,
    transaction: createRunInTransaction(db),
    async ping() {
      // A readiness probe must answer within about the connect timeout, whatever the server does.
      await withDatabaseErrors(() => sql`SELECT 1`, connectTimeoutSeconds * 1000 + 1000)
    },
    close() {
      closing ??= sql.end({ timeout: 5 })
      return closing
    },
  }
}
