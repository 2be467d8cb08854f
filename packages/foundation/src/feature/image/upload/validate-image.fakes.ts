import { DependencyUnavailableError } from '../../../common/errors.ts'
import type { ImageId, ImageRecord, ImageTransition, NewImageRecord } from '../../../shared/image/image.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import type { ImageStorage, ObjectMetadata, PresignedUpload } from './image-storage.ts'

/** Test fakes of the ports ValidateImage uses. Small, in memory, and they record what was asked. */
export class InMemoryImageRepository implements ImageRepository {
  readonly records = new Map<ImageId, ImageRecord>()
  transitions = 0

  async save(record: NewImageRecord): Promise<ImageRecord> {
    const now = new Date()
    const saved: ImageRecord = { ...record, status: 'pending', sizeBytes: null, failureReason: null, createdAt: now, updatedAt: now }
    this.records.set(record.id, saved)
    return saved
  }

  async findById(id: ImageId): Promise<ImageRecord | null> {
    return this.records.get(id) ?? null
  }

  async findByIds(ids: readonly ImageId[]): Promise<ImageRecord[]> {
    return ids.flatMap((id) => this.records.get(id) ?? [])
  }

  async transitionFromPending(id: ImageId, transition: ImageTransition): Promise<ImageRecord | null> {
    const current = this.records.get(id)
    if (current === undefined || current.status !== 'pending') return null
    this.transitions += 1
    const next: ImageRecord =
      transition.status === 'ready'
        ? { ...current, status: 'ready', sizeBytes: transition.sizeBytes, updatedAt: new Date() }
        : { ...current, status: 'failed', failureReason: transition.failureReason, updatedAt: new Date() }
    this.records.set(id, next)
    return next
  }
}

export class InMemoryImageStorage implements ImageStorage {
  readonly objects = new Map<string, Uint8Array>()
  readonly deleted: string[] = []
  /** Every read, so a test can prove the full object was never served. */
  readonly reads: { key: string; kind: 'head' | 'full'; bytes: number }[] = []
  failDeletes = false

  async generatePresignedUploadUrl(input: { objectKey: string; contentType: string; expiresInSeconds: number }): Promise<PresignedUpload> {
    return {
      url: `memory://${input.objectKey}`,
      headers: { 'content-type': input.contentType },
      expiresAt: new Date(Date.now() + input.expiresInSeconds * 1000),
    }
  }

  async getObjectMetadata(objectKey: string): Promise<ObjectMetadata | null> {
    const bytes = this.objects.get(objectKey)
    return bytes === undefined ? null : { sizeBytes: bytes.length, contentType: undefined }
  }

  async readObjectHead(objectKey: string, bytes: number): Promise<Uint8Array> {
    const head = this.require(objectKey).subarray(0, bytes)
    this.reads.push({ key: objectKey, kind: 'head', bytes: head.length })
    return head
  }

  async readObject(objectKey: string): Promise<Uint8Array> {
    const all = this.require(objectKey)
    this.reads.push({ key: objectKey, kind: 'full', bytes: all.length })
    return all
  }

  async deleteObject(objectKey: string): Promise<void> {
    if (this.failDeletes) throw new DependencyUnavailableError('STORAGE_UNAVAILABLE', 'storage is down')
    this.objects.delete(objectKey)
    this.deleted.push(objectKey)
  }

  private require(objectKey: string): Uint8Array {
    const bytes = this.objects.get(objectKey)
    if (bytes === undefined) throw new Error(`no object ${objectKey}`)
    return bytes
  }
}
