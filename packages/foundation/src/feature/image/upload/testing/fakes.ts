import type { ImageRepository } from '../../../../shared/image/image-repository.ts'
import type { ImageId, ImageRecord, ImageTransition, NewImageRecord } from '../../../../shared/image/image.ts'
import type { ImageStorage, ObjectMetadata, PresignedUpload } from '../image-storage.ts'
import { StoredObjectNotFoundError } from '../upload-error.ts'

/** Test fakes of the upload ports. `events` records the order of calls across both fakes. */
export class FakeImageRepository implements ImageRepository {
  readonly records = new Map<ImageId, ImageRecord>()
  readonly events: string[]
  failSave: Error | undefined
  /** When set, save() waits for this promise before storing: lets a test hold a save open. */
  saveGate: Promise<void> | undefined

  constructor(events: string[] = []) {
    this.events = events
  }

  async save(record: NewImageRecord): Promise<ImageRecord> {
    this.events.push(`save:${record.id}`)
    if (this.saveGate !== undefined) await this.saveGate
    if (this.failSave !== undefined) throw this.failSave
    const now = new Date()
    const saved: ImageRecord = { ...record, status: 'pending', sizeBytes: null, failureReason: null, createdAt: now, updatedAt: now }
    this.records.set(record.id, saved)
    this.events.push(`saved:${record.id}`)
    return saved
  }

  async findById(id: ImageId): Promise<ImageRecord | null> {
    return this.records.get(id) ?? null
  }

  async findByIds(ids: readonly ImageId[]): Promise<ImageRecord[]> {
    return ids.flatMap((id) => this.records.get(id) ?? [])
  }

  async transitionFromPending(id: ImageId, transition: ImageTransition): Promise<ImageRecord | null> {
    const record = this.records.get(id)
    if (record === undefined || record.status !== 'pending') return null
    const updated: ImageRecord =
      transition.status === 'ready'
        ? { ...record, status: 'ready', sizeBytes: transition.sizeBytes, updatedAt: new Date() }
        : { ...record, status: 'failed', failureReason: transition.failureReason, updatedAt: new Date() }
    this.records.set(id, updated)
    return updated
  }
}

export class FakeImageStorage implements ImageStorage {
  readonly objects = new Map<string, { bytes: Uint8Array; contentType: string }>()
  readonly presigned: { objectKey: string; contentType: string; expiresInSeconds: number }[] = []
  readonly events: string[]
  failPresign: Error | undefined

  constructor(events: string[] = []) {
    this.events = events
  }

  async generatePresignedUploadUrl(input: { objectKey: string; contentType: string; expiresInSeconds: number }): Promise<PresignedUpload> {
    this.events.push(`presign:${input.objectKey}`)
    if (this.failPresign !== undefined) throw this.failPresign
    this.presigned.push(input)
    return {
      url: `https://storage.test/${input.objectKey}?signature=fake`,
      headers: { 'content-type': input.contentType },
      expiresAt: new Date(Date.UTC(2030, 0, 1) + input.expiresInSeconds * 1000),
    }
  }

  async getObjectMetadata(objectKey: string): Promise<ObjectMetadata | null> {
    const object = this.objects.get(objectKey)
    return object === undefined ? null : { sizeBytes: object.bytes.length, contentType: object.contentType }
  }

  async readObjectHead(objectKey: string, bytes: number): Promise<Uint8Array> {
    return (await this.readObject(objectKey)).subarray(0, bytes)
  }

  async readObject(objectKey: string): Promise<Uint8Array> {
    const object = this.objects.get(objectKey)
    if (object === undefined) throw new StoredObjectNotFoundError(objectKey)
    return object.bytes
  }

  async deleteObject(objectKey: string): Promise<void> {
    this.objects.delete(objectKey)
  }
}
