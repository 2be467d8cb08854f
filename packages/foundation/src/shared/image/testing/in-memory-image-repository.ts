import type { ImageListQuery, ImageRepository } from '../image-repository.ts'
import { type ImageId, type ImageRecord, type ImageStatus, type ImageTransition, type NewImageRecord, objectKeyFor } from '../image.ts'
import { exceededLimit, type OwnerUsage, QuotaExceededError, type QuotaLimits } from '../usage.ts'

/**
 * Test fake of the ImageRepository port, in memory. It records what was asked so tests can
 * assert order and counts: `events` (shared with a storage fake, to see call order across
 * both), `transitions` (applied transitions only) and `findByIdsCalls` ("one query").
 */
export class InMemoryImageRepository implements ImageRepository {
  readonly records = new Map<ImageId, ImageRecord>()
  readonly events: string[]
  readonly findByIdsCalls: (readonly ImageId[])[] = []
  transitions = 0
  failSave: Error | undefined
  /** When set, save() waits for this promise before storing: lets a test hold a save open. */
  saveGate: Promise<void> | undefined

  constructor(events: string[] = []) {
    this.events = events
  }

  /** Seeds a record in the given status (fixed timestamps, PNG, size 10 and ETag "approved" when ready), of `owner-a` unless said. */
  add(id: ImageId, status: ImageStatus, ownerId = 'owner-a'): this {
    const at = new Date('2025-01-01T00:00:00Z')
    this.records.set(id, {
      id,
      ownerId,
      status,
      contentType: 'image/png',
      fileName: 'a.png',
      sizeBytes: status === 'ready' ? 10 : null,
      objectKey: objectKeyFor(id),
      failureReason: status === 'failed' ? 'corrupt' : null,
      etag: status === 'ready' ? '"approved"' : null,
      labels: {},
      sourceImageId: null,
      jobId: null,
      reservedBytes: 0,
      width: status === 'ready' ? 1 : null,
      height: status === 'ready' ? 1 : null,
      variants: [],
      placeholder: null,
      metadataRemoved: [],
      createdAt: at,
      updatedAt: at,
    })
    return this
  }

  async save(record: NewImageRecord): Promise<ImageRecord> {
    this.events.push(`save:${record.id}`)
    if (this.saveGate !== undefined) await this.saveGate
    if (this.failSave !== undefined) throw this.failSave
    const now = new Date()
    const saved: ImageRecord = {
      labels: {},
      sourceImageId: null,
      jobId: null,
      reservedBytes: 0,
      ...record,
      status: 'pending',
      sizeBytes: null,
      failureReason: null,
      etag: null,
      width: null,
      height: null,
      variants: [],
      placeholder: null,
      metadataRemoved: [],
      createdAt: now,
      updatedAt: now,
    }
    this.records.set(record.id, saved)
    this.events.push(`saved:${record.id}`)
    return saved
  }

  async saveWithinQuota(record: NewImageRecord & { reservedBytes: number }, limits: QuotaLimits): Promise<ImageRecord> {
    const usage = await this.usageOf(record.ownerId)
    const limit = exceededLimit(usage, limits, record.reservedBytes)
    if (limit !== undefined) throw new QuotaExceededError(limit, usage, limits, record.reservedBytes)
    return this.save(record)
  }

  /** Computed from the records, which is what the PostgreSQL counters must always equal. */
  async usageOf(ownerId: string): Promise<OwnerUsage> {
    const owned = [...this.records.values()].filter((r) => r.ownerId === ownerId)
    return {
      images: owned.filter((r) => r.status === 'pending' || r.status === 'ready').length,
      bytes: owned
        .filter((r) => r.status === 'ready')
        .reduce((sum, r) => sum + (r.sizeBytes ?? 0) + r.variants.reduce((s, v) => s + v.sizeBytes, 0), 0),
      reservedBytes: owned.filter((r) => r.status === 'pending').reduce((sum, r) => sum + r.reservedBytes, 0),
    }
  }

  async findById(id: ImageId): Promise<ImageRecord | null> {
    return this.records.get(id) ?? null
  }

  async findOwnedByIds(ownerId: string, ids: readonly ImageId[]): Promise<ImageRecord[]> {
    this.findByIdsCalls.push([...ids])
    return ids.flatMap((id) => {
      const record = this.records.get(id)
      return record !== undefined && record.ownerId === ownerId ? [record] : []
    })
  }

  async list(query: ImageListQuery): Promise<ImageRecord[]> {
    return [...this.records.values()]
      .filter((r) => r.ownerId === query.ownerId)
      .filter((r) => (query.status === undefined ? r.status !== 'deleted' : r.status === query.status))
      .filter((r) => query.sourceImageId === undefined || r.sourceImageId === query.sourceImageId)
      .filter((r) => Object.entries(query.labels ?? {}).every(([k, v]) => r.labels[k] === v))
      .filter((r) => query.before === undefined || r.id < query.before)
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .slice(0, query.limit)
  }

  async markDeleted(id: ImageId): Promise<ImageRecord | null> {
    const current = this.records.get(id)
    if (current === undefined || current.status === 'deleted') return null
    const next: ImageRecord = { ...current, status: 'deleted', updatedAt: new Date() }
    this.records.set(id, next)
    return next
  }

  async transitionFromPending(id: ImageId, transition: ImageTransition): Promise<ImageRecord | null> {
    const current = this.records.get(id)
    if (current === undefined || current.status !== 'pending') return null
    this.transitions += 1
    const next: ImageRecord =
      transition.status === 'ready'
        ? {
            ...current,
            status: 'ready',
            sizeBytes: transition.sizeBytes,
            etag: transition.etag,
            width: transition.derivatives?.width ?? null,
            height: transition.derivatives?.height ?? null,
            variants: transition.derivatives?.variants ?? [],
            placeholder: transition.derivatives?.placeholder ?? null,
            metadataRemoved: transition.derivatives?.metadataRemoved ?? [],
            updatedAt: new Date(),
          }
        : { ...current, status: 'failed', failureReason: transition.failureReason, updatedAt: new Date() }
    this.records.set(id, next)
    return next
  }

  async failReplaced(id: ImageId, approvedEtag: string): Promise<ImageRecord | null> {
    const current = this.records.get(id)
    if (current === undefined || current.status !== 'ready' || current.etag !== approvedEtag) return null
    this.transitions += 1
    const next: ImageRecord = { ...current, status: 'failed', failureReason: 'replaced', updatedAt: new Date() }
    this.records.set(id, next)
    return next
  }
}
