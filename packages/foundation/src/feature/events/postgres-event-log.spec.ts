import { createTestDatabase, type TestDatabase } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDatabase, type Database } from '../../shared/database/database.ts'
import { type EventPosition, type EventRecord, LOG_START, parseEventId } from './event.ts'
import { createPostgresEventLog } from './postgres-event-log.ts'
import { createPostgresWebhookOutbox } from './webhooks/postgres-webhook-outbox.ts'

let testDatabase: TestDatabase
let database: Database

beforeAll(async () => {
  testDatabase = await createTestDatabase(inject('databaseServerUrl'))
  database = createDatabase({ url: testDatabase.url, poolMax: 4 })
})
afterAll(async () => {
  await database.close()
  await testDatabase.drop()
})

/** A transaction held open until release() is called: it commits then. */
function openTransaction(work: (tx: Database['sql']) => Promise<unknown>) {
  let release!: () => void
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  let started!: () => void
  const ready = new Promise<void>((resolve) => {
    started = resolve
  })
  const committed = database.sql.begin(async (tx) => {
    await work(tx as unknown as Database['sql'])
    started()
    await released
  })
  return { ready, release, committed }
}

const append = (sql: Database['sql'], ownerId: string, subjectId: string) =>
  sql`INSERT INTO events (type, subject_id, owner_id) VALUES ('image.pending', ${subjectId}, ${ownerId}) RETURNING id`

describe('PostgreSQL event log', () => {
  const log = () => createPostgresEventLog(database.db)

  /** A reader that tails the log from a cursor, as GET /events?after= and the stream do. */
  const tail = (ownerId: string) => {
    let cursor: EventPosition = LOG_START
    const seen: string[] = []
    return {
      seen,
      async read(): Promise<EventRecord[]> {
        const page = await log().listAfter({ ownerId, after: cursor, limit: 100 })
        for (const event of page) {
          seen.push(event.subjectId)
          cursor = event.position
        }
        return page
      },
    }
  }

  it('holds back an event that committed while an earlier one is still uncommitted, so a tailing reader never skips the late one', async () => {
    const owner = 'log-late-commit'
    const reader = tail(owner)
    // The first transaction takes its event id first and commits last.
    const late = openTransaction((tx) => append(tx, owner, 'first-id-commits-last'))
    await late.ready
    const [early] = await append(database.sql, owner, 'second-id-commits-first')
    const committed = await database.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM events WHERE owner_id = ${owner}`
    expect(committed[0]?.n).toBe(1)
    // A reader ordering by id alone would now deliver the second and move past the first.
    expect(early).toBeDefined()
    expect(await reader.read()).toEqual([])

    late.release()
    await late.committed
    await reader.read()
    expect(reader.seen).toEqual(['first-id-commits-last', 'second-id-commits-first'])
    // Nothing more appears behind the cursor later.
    expect(await reader.read()).toEqual([])
  })

  it('delivers an event of an older transaction at once, and one with a smaller id that commits later still lands after the cursor', async () => {
    const owner = 'log-later-xid'
    const reader = tail(owner)
    const older = await database.sql.reserve()
    const younger = await database.sql.reserve()
    try {
      await older`BEGIN`
      await older`SELECT pg_current_xact_id()`
      await younger`BEGIN`
      await append(younger, owner, 'younger-smaller-id')
      await append(older, owner, 'older-larger-id')
      await older`COMMIT`
      // Final already: every transaction that could still append has a larger xid.
      expect((await reader.read()).map((e) => e.subjectId)).toEqual(['older-larger-id'])
      await younger`COMMIT`
      await reader.read()
      expect(reader.seen).toEqual(['older-larger-id', 'younger-smaller-id'])
    } finally {
      older.release()
      younger.release()
    }
  })

  it("reads one owner's events only, and everyone's for the relay and the live hub", async () => {
    await append(database.sql, 'log-owner-a', 'a1')
    await append(database.sql, 'log-owner-b', 'b1')
    await append(database.sql, 'log-owner-a', 'a2')
    const mine = await log().listAfter({ ownerId: 'log-owner-a', after: LOG_START, limit: 10 })
    expect(mine.map((e) => e.subjectId)).toEqual(['a1', 'a2'])
    const all = await log().listAfter({ ownerId: null, after: mine[0]!.position, limit: 10 })
    expect(all.map((e) => e.subjectId).filter((s) => ['a2', 'b1'].includes(s))).toEqual(['b1', 'a2'])
    const head = await log().head()
    expect(await log().listAfter({ ownerId: null, after: head, limit: 10 })).toEqual([])
    expect(parseEventId(mine[1]!.id)).toEqual(mine[1]!.position)
  })
})

describe('positions across a power of ten (the xid column is read back as text)', () => {
  it('orders xid 1000 after 999 in every read, in head() and in the webhook relay, as numbers and not as text', async () => {
    // A database of its own: head() and the relay look at every event of the table.
    const fresh = await createTestDatabase(inject('databaseServerUrl'))
    const db = createDatabase({ url: fresh.url, poolMax: 2 })
    try {
      const [row] = await db.sql<{ current: string }[]>`SELECT pg_current_xact_id()::text AS current`
      const current = row?.current ?? ''
      // The largest power of ten below the current xid: ids of transactions that have ended.
      const boundary = 10n ** BigInt(current.length - 1)
      expect(BigInt(current)).toBeGreaterThan(boundary)
      await db.sql`
        INSERT INTO events (xid, type, subject_id, owner_id)
        VALUES (${String(boundary - 1n)}::xid8, 'image.pending', 'below', 'order-owner'),
               (${String(boundary)}::xid8, 'image.pending', 'at', 'order-owner')`
      const log = createPostgresEventLog(db.db)
      const subjects = (events: EventRecord[]) => events.map((e) => e.subjectId)
      expect(subjects(await log.listAfter({ ownerId: null, after: LOG_START, limit: 10 }))).toEqual(['below', 'at'])
      expect(subjects(await log.listAfter({ ownerId: 'order-owner', after: LOG_START, limit: 10 }))).toEqual(['below', 'at'])
      expect(subjects(await log.listAfter({ ownerId: null, after: LOG_START, limit: 1 }))).toEqual(['below'])
      expect((await log.head()).xid).toBe(boundary)

      await db.sql`INSERT INTO webhook_relay (name, after_xid, after_id) VALUES ('order', '0', 0)`
      const outbox = createPostgresWebhookOutbox(db.db, { name: 'order' })
      expect(await outbox.enqueue(10)).toBe(2)
      const [relay] = await db.sql<{ xid: string }[]>`SELECT after_xid::text AS xid FROM webhook_relay WHERE name = 'order'`
      expect(relay?.xid).toBe(String(boundary))
      expect(await outbox.enqueue(10)).toBe(0)
    } finally {
      await db.close()
      await fresh.drop()
    }
  })
})
