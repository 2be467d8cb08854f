import { LRUCache } from 'lru-cache'
import type { RequestContext } from '../identity/request-context.ts'
import type { ImageId, ImageRecord, ImageTransition } from './image.ts'
import type { ImageRepository } from './image-repository.ts'

export type ReadyRecordCacheOptions = {
  /** Most records kept (least recently used go first). */
  maxEntries: number
  /**
   * Longest a record is served from memory. Changes are announced within milliseconds
   * (listenForRecordChanges); this bounds what a change whose announcement never arrived costs.
   */
  maxAgeMs: number
  now?: () => number
}

/**
 * The hot reads of an api replica without a database round trip: findById and findOwnedByIds
 * answer `ready` records from memory. A ready record changes only by leaving `ready` (deleted,
 * failed as replaced) or by being removed, and every such change is announced to every
 * replica (migrations/0014_ready_record_changes.sql): the listener calls forget() with the id.
 * Writes through this repository forget their record at once, so the replica that served a
 * delete never answers with the record again; other replicas stop within the announcement's
 * delay. Records in any other status are never kept.
 *
 * Nothing is cached while announcements may be missed: the cache starts suspended and is
 * cleared and suspended whenever the listener is down (its connection lost, or its heartbeat
 * not back: suspend()), until it hears again (resume()). A read that started before any forget, suspend or resume keeps
 * its answer to itself, so a record read just before its change cannot be cached after the
 * change was announced.
 */
export type ReadyRecordCache = {
  repository: ImageRepository
  forget(id: string): void
  suspend(): void
  resume(): void
  /** Records held now, whether changes are heard, and reads answered from memory or not since start. */
  stats(): ReadyRecordCacheStats
}

export type ReadyRecordCacheStats = { records: number; live: boolean; hits: number; misses: number }

type Entry = { record: ImageRecord; cachedAt: number }

export function withReadyRecordCache(inner: ImageRepository, options: ReadyRecordCacheOptions): ReadyRecordCache {
  const now = options.now ?? Date.now
  const entries = new LRUCache<string, Entry>({ max: options.maxEntries })
  let live = false
  // Moves on every forget, suspend and resume: a read caches only if it did not move meanwhile.
  let generation = 0
  let hits = 0
  let misses = 0

  const cached = (id: ImageId): ImageRecord | undefined => {
    const entry = entries.get(id)
    if (entry !== undefined && now() - entry.cachedAt < options.maxAgeMs) {
      hits++
      return entry.record
    }
    if (entry !== undefined) entries.delete(id)
    misses++
    return undefined
  }
  const keep = (record: ImageRecord, since: number) => {
    if (live && generation === since && record.status === 'ready') entries.set(record.id, { record: frozen(record), cachedAt: now() })
  }
  const forget = (id: string) => {
    generation++
    entries.delete(id)
  }
  /** A write forgets its record when it returns (and, should it fail, too: it may have committed). */
  const writing = async <T>(id: ImageId, write: () => Promise<T>): Promise<T> => {
    try {
      return await write()
    } finally {
      forget(id)
    }
  }

  const repository: ImageRepository = {
    save: (record, ctx) => inner.save(record, ctx),
    saveWithinQuota: (record, limits, ctx) => inner.saveWithinQuota(record, limits, ctx),
    usageOf: (ownerId) => inner.usageOf(ownerId),
    list: (query) => inner.list(query),

    async findById(id: ImageId) {
      const hit = cached(id)
      if (hit !== undefined) return hit
      const since = generation
      const record = await inner.findById(id)
      if (record !== null) keep(record, since)
      return record
    },

    async findOwnedByIds(ownerId: string, ids: readonly ImageId[]) {
      const found: ImageRecord[] = []
      const missing: ImageId[] = []
      for (const id of new Set(ids)) {
        const hit = cached(id)
        // Another owner's record is asked of the database like any unknown id: it answers nothing.
        if (hit !== undefined && hit.ownerId === ownerId) found.push(hit)
        else missing.push(id)
      }
      if (missing.length === 0) return found
      const since = generation
      for (const record of await inner.findOwnedByIds(ownerId, missing)) {
        keep(record, since)
        found.push(record)
      }
      return found
    },

    transitionFromPending: (id: ImageId, transition: ImageTransition, ctx?: RequestContext) =>
      writing(id, () => inner.transitionFromPending(id, transition, ctx)),
    failReplaced: (id: ImageId, approvedEtag: string, ctx?: RequestContext) => writing(id, () => inner.failReplaced(id, approvedEtag, ctx)),
    markDeleted: (id: ImageId, ctx?: RequestContext) => writing(id, () => inner.markDeleted(id, ctx)),
  }

  return {
    repository,
    forget,
    suspend() {
      live = false
      generation++
      entries.clear()
    },
    resume() {
      // Whatever was announced while suspended is unknown: start from nothing.
      entries.clear()
      generation++
      live = true
    },
    stats: () => ({ records: entries.size, live, hits, misses }),
  }
}

/** Records are shared between requests: freezing makes a caller that would change one fail loudly. */
function frozen(record: ImageRecord): ImageRecord {
  for (const variant of record.variants) Object.freeze(variant)
  Object.freeze(record.variants)
  Object.freeze(record.labels)
  Object.freeze(record.metadataRemoved)
  return Object.freeze(record)
}
