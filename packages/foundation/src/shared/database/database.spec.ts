import { createServer, type Server, type Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { closedPort, createTestDatabase, type TestDatabase } from '@image-service/devstack'
import { sql } from 'drizzle-orm'
import { DatabaseOutcomeUnknownError, DependencyUnavailableError } from '../../common/errors.ts'
import { createDatabase, type Database } from './database.ts'
import { isDatabaseUnavailable } from './database-errors.ts'
import type { Transaction } from './transaction.ts'

/** A TCP server that misbehaves like a dead database: never answers, or hangs up at once. */
async function startFakeServer(onConnection: (socket: Socket) => void): Promise<{ url: string; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    onConnection(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { url: `postgres://postgres@127.0.0.1:${address.port}/none`, server, sockets }
}

async function closedPortUrl(): Promise<string> {
  return `postgres://postgres@127.0.0.1:${await closedPort()}/none`
}

describe('createDatabase against a live server', () => {
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

  describe('transaction', () => {
    beforeAll(async () => {
      await database.sql`CREATE TABLE tx_probe (id int PRIMARY KEY)`
      // A deferred constraint trigger runs at COMMIT: it makes COMMIT itself slow on purpose.
      await database.sql.unsafe(`
        CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.id >= 1000 THEN PERFORM pg_sleep(0.6); END IF; RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER tx_probe_slow_commit AFTER INSERT ON tx_probe
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();`)
    })
    const ids = async () => (await database.sql<{ id: number }[]>`SELECT id FROM tx_probe ORDER BY id`).map((r) => r.id)
    const insert = (tx: Transaction, id: number) => tx.execute(sql`INSERT INTO tx_probe (id) VALUES (${id})`)

    it('commits the work, or rolls all of it back when it throws', async () => {
      await database.transaction(async (tx) => {
        await insert(tx, 1)
        await insert(tx, 2)
      })
      const failing = database.transaction(async (tx) => {
        await insert(tx, 3)
        throw new Error('changed my mind')
      })
      await expect(failing).rejects.toThrow('changed my mind')
      expect(await ids()).toEqual([1, 2])
    })

    it('reports unavailable for work the deadline cut short, and that work never commits', async () => {
      let finished: () => void = () => {}
      const workDone = new Promise<void>((resolve) => (finished = resolve))
      const slow = database.transaction(
        async (tx) => {
          await insert(tx, 10)
          await tx.execute(sql`SELECT pg_sleep(0.4)`)
          finished()
        },
        { deadlineMs: 100 },
      )
      await expect(slow).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' })
      await workDone
      // The late work is rolled back instead of committing after "unavailable" was reported.
      await expect
        .poll(async () => (await database.sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'idle in transaction'`)[0]?.n)
        .toBe(0)
      expect(await ids()).not.toContain(10)
    })

    it('reports an unknown outcome when COMMIT outlives the deadline, and the commit may still land', async () => {
      const slowCommit = database.transaction((tx) => insert(tx, 1000), { deadlineMs: 200 })
      const error = await slowCommit.catch((e: unknown) => e)
      expect(error).toBeInstanceOf(DatabaseOutcomeUnknownError)
      expect(error).toMatchObject({ kind: 'unavailable', code: 'DATABASE_OUTCOME_UNKNOWN' })
      // It was not "unavailable": the commit goes through once the trigger is done.
      await expect.poll(ids, { timeout: 5000 }).toContain(1000)
    })
  })

  it('pings and exposes both postgres.js and drizzle', async () => {
    await expect(database.ping()).resolves.toBeUndefined()
    const [row] = await database.sql<{ answer: number }[]>`SELECT 42::int AS answer`
    expect(row?.answer).toBe(42)
    expect(await database.db.query.imageRecords.findMany()).toEqual([])
  })
})

describe('createDatabase during an outage', () => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup()
  })

  const outages: [string, () => Promise<string>][] = [
    ['nothing listens on the port', closedPortUrl],
    [
      'the server accepts but never answers',
      async () => {
        const fake = await startFakeServer(() => {})
        cleanups.push(() => closeFake(fake))
        return fake.url
      },
    ],
    [
      'the server hangs up at once',
      async () => {
        const fake = await startFakeServer((socket) => socket.destroy())
        cleanups.push(() => closeFake(fake))
        return fake.url
      },
    ],
  ]

  it.each(outages)('ping throws DATABASE_UNAVAILABLE when %s', async (_, url) => {
    const database = createDatabase({ url: await url(), poolMax: 1, connectTimeoutSeconds: 1 })
    // No grace period: after a hang-up postgres.js keeps the ping queued and would wait it out.
    cleanups.push(() => database.sql.end({ timeout: 0 }))

    const error = await database.ping().catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect(error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', kind: 'unavailable' })
  })
})

async function closeFake(fake: { server: Server; sockets: Set<Socket> }): Promise<void> {
  for (const socket of fake.sockets) socket.destroy()
  await new Promise<void>((resolve) => fake.server.close(() => resolve()))
}

describe('isDatabaseUnavailable', () => {
  const withCode = (code: string, cause?: unknown) => Object.assign(new Error(code, { cause }), { code })

  it.each(['ECONNREFUSED', 'ETIMEDOUT', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT', '53300', '57P01', '57P03', '08006'])(
    'treats %s as an outage',
    (code) => expect(isDatabaseUnavailable(withCode(code))).toBe(true),
  )

  it('looks through wrapping errors and AggregateErrors', () => {
    expect(isDatabaseUnavailable(new Error('query failed', { cause: withCode('57P01') }))).toBe(true)
    expect(isDatabaseUnavailable(new AggregateError([withCode('ECONNREFUSED')]))).toBe(true)
  })

  it.each(['23505', '42P01', '22P02'])('leaves query errors such as %s alone', (code) => {
    expect(isDatabaseUnavailable(withCode(code))).toBe(false)
  })

  it('leaves non-errors alone', () => {
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false)
    expect(isDatabaseUnavailable(undefined)).toBe(false)
  })
})
