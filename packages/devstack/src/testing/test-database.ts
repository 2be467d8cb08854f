import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { migrate } from '@image-service/migrations'
import type {} from './provided-context.ts'

export type TestDatabase = { url: string; drop(): Promise<void> }

/**
 * Creates a uniquely named database on the server (so test files never share state),
 * applies the migrations unless told not to, and drops it WITH (FORCE) on drop().
 */
export async function createTestDatabase(serverUrl: string, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `t_${randomBytes(8).toString('hex')}`
  await withAdmin(serverUrl, (sql) => sql`CREATE DATABASE ${sql(name)}`)

  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  const databaseUrl = url.toString()
  const drop = () => withAdmin(serverUrl, (sql) => sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`)

  if (options.migrate !== false) {
    try {
      await migrate(databaseUrl)
    } catch (error) {
      await drop()
      throw error
    }
  }
  return { url: databaseUrl, drop }
}

async function withAdmin(serverUrl: string, run: (sql: postgres.Sql) => Promise<unknown>): Promise<void> {
  const sql = postgres(serverUrl, { max: 1, connect_timeout: 10, onnotice: () => {} })
  try {
    await run(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}
