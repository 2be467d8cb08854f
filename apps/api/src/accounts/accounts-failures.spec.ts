import { Writable } from 'node:stream'
import { closedPort, createTestDatabase, type TestDatabase } from '@image-service/devstack'
import { createDatabase, type Database } from '@image-service/foundation'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { registerErrorHandling } from '../http/errors.ts'
import { requestLogController } from '../http/request-log.ts'
import { accountsRoutes } from './accounts-routes.ts'
import { createAccounts } from './create-accounts.ts'

const EMAIL = 'failing-user@example.test'
const PASSWORD = 'a password nobody may read'

describe('built-in accounts when the database fails', () => {
  let testDatabase: TestDatabase
  const databases: Database[] = []
  const apps: FastifyInstance[] = []
  const logLines: string[] = []
  const consoleError = vi.spyOn(console, 'error')

  async function appOn(databaseUrl: string) {
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString())
        done()
      },
    })
    const database = createDatabase({ url: databaseUrl, poolMax: 1, connectTimeoutSeconds: 2 })
    const app = Fastify({ logger: { level: 'debug', stream }, logController: requestLogController() })
    databases.push(database)
    apps.push(app)
    registerErrorHandling(app)
    const accounts = createAccounts({ db: database.db, secret: 's'.repeat(32), baseUrl: 'http://localhost', logger: app.log })
    await app.register(accountsRoutes, { accounts })
    await app.ready()
    return app
  }
  const signIn = (app: FastifyInstance) =>
    app.inject({ method: 'POST', url: '/api/auth/sign-in/email', payload: { email: EMAIL, password: PASSWORD } })
  const failureLine = () =>
    logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === 'request failed')

  beforeAll(async () => {
    // No migrations: every query Better Auth makes fails (relation does not exist).
    testDatabase = await createTestDatabase(inject('databaseServerUrl'), { migrate: false })
  })
  afterEach(() => {
    // Better Auth's router prints unhandled errors, query parameters included, to stderr.
    expect(consoleError).not.toHaveBeenCalled()
    const all = logLines.join('\n')
    expect(all).not.toContain(EMAIL)
    expect(all).not.toContain(PASSWORD)
    logLines.length = 0
  })
  afterAll(async () => {
    for (const app of apps) await app.close()
    for (const database of databases) await database.close()
    await testDatabase?.drop()
    consoleError.mockRestore()
  })

  it('answers a failing query 500 INTERNAL_ERROR, logged by error class and SQLSTATE only', async () => {
    const response = await signIn(await appOn(testDatabase.url))

    expect(response.statusCode).toBe(500)
    expect(response.json()).toEqual({ statusCode: 500, error: 'Internal Server Error', code: 'INTERNAL_ERROR', message: 'internal error' })
    expect(failureLine()).toMatchObject({
      level: 50,
      code: 'INTERNAL_ERROR',
      err: { message: 'accounts failed: DrizzleQueryError (42P01)' },
    })
  })

  it('answers an unreachable database 503 DATABASE_UNAVAILABLE', async () => {
    const url = new URL(testDatabase.url)
    url.port = String(await closedPort())
    const response = await signIn(await appOn(url.toString()))

    expect(response.statusCode).toBe(503)
    expect(response.json()).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE' })
    expect(failureLine()).toMatchObject({ level: 50, code: 'DATABASE_UNAVAILABLE' })
  })
})
