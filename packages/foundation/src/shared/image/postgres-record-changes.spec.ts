import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '@image-service/devstack'
import { createLogger, type Logger } from '../../common/logger.ts'
import { createDatabase, type Database } from '../database/database.ts'
import { newImageId, objectKeyFor, type ImageId } from './image.ts'
import type { ImageRepository } from './image-repository.ts'
import { createPostgresImageRepository } from './postgres-image-repository.ts'
import { announceThrough, listenForRecordChanges, type RecordChangeHandlers, type RecordChangeListener } from './postgres-record-changes.ts'
import { type ReadyRecordCache, withReadyRecordCache } from './ready-record-cache.ts'

let testDatabase: TestDatabase
let database: Database
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  testDatabase = await createTestDatabase(inject('databaseServerUrl'))
  database = createDatabase({ url: testDatabase.url, poolMax: 4 })
})
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  await database.close()
  await testDatabase.drop()
})

/** What a listener heard, in order, with a way to wait until it heard something. */
function recorder() {
  const heard: string[] = []
  const waiters: { until: (heard: readonly string[]) => boolean; resolve: () => void }[] = []
  const note = (what: string) => {
    heard.push(what)
    for (const waiter of [...waiters]) {
      if (!waiter.until(heard)) continue
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve()
    }
  }
  const handlers: RecordChangeHandlers = { changed: (id) => note(id), down: () => note('down'), up: () => note('up') }
  return {
    heard,
    handlers,
    waitFor: (until: (heard: readonly string[]) => boolean) =>
      until(heard) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ until, resolve })),
  }
}

function listen(
  handlers: RecordChangeHandlers,
  options: { announce?: (payload: string) => Promise<unknown>; heartbeatMs?: number; log?: Logger } = {},
): RecordChangeListener {
  const listener = listenForRecordChanges(
    {
      url: testDatabase.url,
      announce: options.announce ?? announceThrough(database.sql),
      retryMs: 20,
      heartbeatMs: options.heartbeatMs,
      log: options.log,
    },
    handlers,
  )
  cleanups.push(() => listener.close())
  return listener
}

/** One api replica: its own pool, repository, cache and listener. */
async function replica(): Promise<{
  images: ImageRepository
  cache: ReadyRecordCache
  reads: ImageId[]
  heard: ReturnType<typeof recorder>
}> {
  const pool = createDatabase({ url: testDatabase.url, poolMax: 2 })
  cleanups.push(() => pool.close())
  const inner = createPostgresImageRepository(pool.db)
  const reads: ImageId[] = []
  const findById = inner.findById
  inner.findById = (id) => {
    reads.push(id)
    return findById(id)
  }
  const cache = withReadyRecordCache(inner, { maxEntries: 100, maxAgeMs: 60_000 })
  const heard = recorder()
  listen({
    changed: (id) => {
      cache.forget(id)
      heard.handlers.changed(id)
    },
    down: () => {
      cache.suspend()
      heard.handlers.down()
    },
    up: () => {
      cache.resume()
      heard.handlers.up()
    },
  })
  await heard.waitFor((h) => h.includes('up'))
  return { images: cache.repository, cache, reads, heard }
}

async function readyImage(images: ImageRepository, etag = '"approved"'): Promise<ImageId> {
  const id = newImageId()
  await images.save({ id, ownerId: 'owner-a', contentType: 'image/png', fileName: 'a.png', objectKey: objectKeyFor(id) })
  await images.transitionFromPending(id, { status: 'ready', sizeBytes: 10, etag })
  return id
}

describe('the announcements of migration 0014', () => {
  it('announce a ready record leaving ready or going, and nothing else', async () => {
    const heard = recorder()
    listen(heard.handlers)
    await heard.waitFor((h) => h.includes('up'))
    const images = createPostgresImageRepository(database.db)

    const deleted = await readyImage(images)
    const replaced = await readyImage(images)
    const purged = await readyImage(images)
    const pending = newImageId()
    await images.save({ id: pending, ownerId: 'owner-a', contentType: 'image/png', fileName: 'p.png', objectKey: objectKeyFor(pending) })
    await images.markDeleted(pending)
    await images.markDeleted(deleted)
    // The sweeper's mark on a deleted record is no news.
    await database.sql`UPDATE image_records SET objects_removed_at = now() WHERE id = ${deleted}`
    await images.failReplaced(replaced, '"approved"')
    await database.sql`DELETE FROM image_records WHERE id = ${purged}`

    // Announcements arrive in commit order: once the last is here, every earlier one is too.
    await heard.waitFor((h) => h.includes(purged))
    expect(heard.heard).toEqual(['up', deleted, replaced, purged])
  })

  it('are sent when the transaction commits, and not at all when it rolls back', async () => {
    const heard = recorder()
    listen(heard.handlers)
    await heard.waitFor((h) => h.includes('up'))
    const images = createPostgresImageRepository(database.db)
    const [rolledBack, committed] = [await readyImage(images), await readyImage(images)]

    await database.sql
      .begin(async (tx) => {
        await tx`UPDATE image_records SET status = 'deleted' WHERE id = ${rolledBack}`
        throw new Error('rolled back')
      })
      .catch(() => {})
    await images.markDeleted(committed)

    await heard.waitFor((h) => h.includes(committed))
    expect(heard.heard).toEqual(['up', committed])
  })
})

describe('the heartbeat', () => {
  it('keeps a listener that hears nothing down, and brings it up once its heartbeats come back', async () => {
    // Heartbeats sent to another database never come back: like a pooler that does not keep LISTEN.
    const elsewhere = await createTestDatabase(inject('databaseServerUrl'))
    const elsewherePool = createDatabase({ url: elsewhere.url, poolMax: 1 })
    cleanups.push(async () => {
      await elsewherePool.close()
      await elsewhere.drop()
    })
    let through = announceThrough(elsewherePool.sql)
    const sent: string[] = []
    const sentWaiters: (() => void)[] = []
    const announce = (payload: string) => {
      sent.push(payload)
      for (const wake of sentWaiters.splice(0)) wake()
      return through(payload)
    }
    const heardSent = (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => (sent.length >= count ? resolve() : sentWaiters.push(check))
        check()
      })
    const heard = recorder()
    const logged: string[] = []
    const log = createLogger({ level: 'warn' }, { write: (line: string) => logged.push(line) })
    listen(heard.handlers, { announce, heartbeatMs: 50, log })

    // The fourth heartbeat goes out after three came back from none: said once, in the log.
    await heardSent(4)
    expect(heard.heard).toEqual([])
    expect(logged.filter((line) => line.includes('no heartbeat has come back since start'))).toHaveLength(1)

    // Announced where the listener listens: the next heartbeat comes back, and it is up.
    through = announceThrough(database.sql)
    await heard.waitFor((h) => h.includes('up'))
    // And one that does not come back takes it down again.
    through = announceThrough(elsewherePool.sql)
    await heard.waitFor((h) => h.includes('down'))
    expect(heard.heard.slice(0, 2)).toEqual(['up', 'down'])
  })

  it("hands on no heartbeat as a change, its own or another listener's", async () => {
    const [a, b] = [recorder(), recorder()]
    listen(a.handlers, { heartbeatMs: 20 })
    listen(b.handlers, { heartbeatMs: 20 })
    await a.waitFor((h) => h.includes('up'))
    await b.waitFor((h) => h.includes('up'))
    const images = createPostgresImageRepository(database.db)
    const id = await readyImage(images)
    await images.markDeleted(id)
    await a.waitFor((h) => h.includes(id))
    await b.waitFor((h) => h.includes(id))
    // Under load a heartbeat may come back late (down, then up again): only the changes count here.
    const changes = (h: readonly string[]) => h.filter((x) => x !== 'up' && x !== 'down')
    expect(changes(a.heard)).toEqual([id])
    expect(changes(b.heard)).toEqual([id])
  })
})

describe('a replica that keeps ready records', () => {
  it('answers a delete made by another replica once it is announced', async () => {
    const [a, b] = [await replica(), await replica()]
    const id = await readyImage(b.images)

    await a.images.findById(id)
    await a.images.findById(id)
    expect(a.reads).toEqual([id])

    await b.images.markDeleted(id)
    await a.heard.waitFor((h) => h.includes(id))
    expect(await a.images.findById(id)).toMatchObject({ status: 'deleted' })
    expect(a.reads).toEqual([id, id])
  })

  it('reads from the database while it cannot listen, and keeps records again once it listens', async () => {
    const a = await replica()
    const id = await readyImage(a.images)
    await a.images.findById(id)
    expect(a.cache.stats().records).toBe(1)

    // The listening connection is cut (a failover, a proxy's idle cut): announcements may be lost.
    const terminated = await database.sql`
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()`
    expect(terminated.length).toBeGreaterThan(0)
    await a.heard.waitFor((h) => h.includes('down'))
    expect(a.cache.stats().records).toBe(0)

    // Listening again: the first read goes to the database, the second is from memory.
    await a.heard.waitFor((h) => h.filter((x) => x === 'up').length === 2)
    const before = a.reads.length
    await a.images.findById(id)
    await a.images.findById(id)
    expect(a.reads.length).toBe(before + 1)

    // And announcements arrive on the new connection.
    const other = createPostgresImageRepository(database.db)
    await other.markDeleted(id)
    await a.heard.waitFor((h) => h.includes(id))
    expect(await a.images.findById(id)).toMatchObject({ status: 'deleted' })
  })
})
