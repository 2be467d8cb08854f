import { DependencyUnavailableError } from '../../../common/errors.ts'
import type { PresignedUpload, UploadStorage } from '../upload/upload-storage.ts'
import type { ObjectMetadata, ValidationStorage } from '../validate/validation-storage.ts'
import { StoredObjectNotFoundError } from '../../../shared/storage/s3-errors.ts'

type PresignInput = { objectKey: string; contentType: string; expiresInSeconds: number }

/**
 * Test fake of one bucket, in memory, behind both apps' ports (UploadStorage for the api,
 * ValidationStorage for the processor). `objects` holds each object's bytes by key
 * (set it directly, or use put() to give a content type too); `events` can be shared with a
 * repository fake to see call order across both; `reads` lets a test prove the full object
 * was never served.
 */
export class InMemoryImageStorage implements UploadStorage, ValidationStorage {
  readonly objects = new Map<string, Uint8Array>()
  /** Content types of the objects that were stored with one; the others report undefined. */
  readonly contentTypes = new Map<string, string>()
  readonly presigned: PresignInput[] = []
  readonly reads: { key: string; kind: 'head' | 'full'; bytes: number }[] = []
  readonly deleted: string[] = []
  readonly events: string[]
  failPresign: Error | undefined
  failDeletes = false

  constructor(events: string[] = []) {
    this.events = events
  }

  put(objectKey: string, bytes: Uint8Array, contentType?: string): this {
    this.objects.set(objectKey, bytes)
    if (contentType === undefined) this.contentTypes.delete(objectKey)
    else this.contentTypes.set(objectKey, contentType)
    return this
  }

  async generatePresignedUploadUrl(input: PresignInput): Promise<PresignedUpload> {
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
    const bytes = this.objects.get(objectKey)
    return bytes === undefined ? null : { sizeBytes: bytes.length, contentType: this.contentTypes.get(objectKey) }
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
    this.contentTypes.delete(objectKey)
    this.deleted.push(objectKey)
  }

  private require(objectKey: string): Uint8Array {
    const bytes = this.objects.get(objectKey)
    if (bytes === undefined) throw new StoredObjectNotFoundError(objectKey)
    return bytes
  }
}
