import type { TestProject } from 'vitest/node'
import { startPostgres } from '../postgres.ts'
import type {} from './provided-context.ts'

/**
 * Vitest global setup: one PostgreSQL server for the whole run. DATABASE_URL, when set, names
 * an existing server (e.g. CI's service container); otherwise an embedded one is started in a
 * temp dir and removed at teardown. Tests call createTestDatabase(inject('databaseServerUrl')).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.DATABASE_URL
  if (external !== undefined && external !== '') {
    project.provide('databaseServerUrl', external)
    return async () => {}
  }
  const server = await startPostgres({
    log: (message) => {
      if (process.env.DEBUG_POSTGRES === '1') process.stderr.write(`[postgres] ${message}\n`)
    },
  })
  project.provide('databaseServerUrl', server.url)
  return () => server.stop()
}
