import { createHash } from 'node:crypto'
import { DependencyUnavailableError } from '../../../common/errors.ts'
import type { PresignedUpload, UploadStorage } from '../upload/upload-storage.ts'
import { VARIANT_CACHE_CONTROL, type VariantStorage } from '../variants/variant-storage.ts'
import { type ObjectMetadata, STORED_RESPONSE_HEADERS, type ValidationStorage } from '../validate/validation-storage.ts'
import { StoredObjectChangedError, StoredObjectNotFoundError } from '../../../shared/storage/s3-errors.ts'

type PresignInput = { objectKey: string; contentType: string; expiresInSeconds: number; contentLength?: number }
type StoredHeaders = ObjectMetadata['headers']

/**
 * Test fake of one bucket, in memory, behind both apps' ports (UploadStorage for the api,
 * ValidationStorage and VariantStorage for the processor), behaving as the S3 adapters do on the emulator
 * (image-storage.contract.spec.ts runs the same assertions against both). `objects` holds
 * each object's bytes by key (set it directly, or use put() to give a content type and
 * stored headers too); the ETag is the quoted MD5 of the bytes, as S3's for a single PUT.
 * `events` can be shared with a repository fake to see call order across both; `reads` lets
 * a test prove the full object was never served.
 */
export class InMemoryImageStorage implements UploadStorage, ValidationStorage, VariantStorage {
  readonly objects = new Map<string, Uint8Array>()
  /** Content types of the objects that were stored with one; the others report undefined. */
  readonly contentTypes = new Map<string, string>()
  readonly storedHeaders = new Map<string, StoredHeaders>()
  readonly presigned: PresignInput[] = []
  readonly reads: { key: string; kind: 'head' | 'full'; bytes: number }[] = []
  readonly deleted: string[] = []
  readonly events: string[]
  failPresign: Error | undefined
  failDeletes = false
  failVariantPuts = false

  constructor(events: string[] = []) {
    this.events = events
  }

  put(objectKey: string, bytes: Uint8Array, stored: { contentType?: string; headers?: StoredHeaders } = {}): this {
    const { contentType, headers = {} } = stored
    this.objects.set(objectKey, bytes)
    if (contentType === undefined) this.contentTypes.delete(objectKey)
    else this.contentTypes.set(objectKey, contentType)
    this.storedHeaders.set(objectKey, headers)
    return this
  }

  async generatePresignedUploadUrl(input: PresignInput): Promise<PresignedUpload> {
    this.events.push(`presign:${input.objectKey}`)
    if (this.failPresign !== undefined) throw this.failPresign
    this.presigned.push(input)
    return {
      url: `https://storage.test/${input.objectKey}?signature=fake`,
      headers: { 'content-type': input.contentType, 'if-none-match': '*' },
      expiresAt: new Date(Date.UTC(2030, 0, 1) + input.expiresInSeconds * 1000),
    }
  }

  /**
   * A client's PUT through a presigned URL, answered as S3 does: 403 unless the signed
   * headers are sent as signed, 412 once the key exists, and any standard response header
   * sent along (unsigned) is stored with the object. Returns the HTTP status.
   */
  putPresigned(url: string, headers: Record<string, string>, body: Uint8Array): number {
    const objectKey = new URL(url).pathname.slice(1)
    const issued = this.presigned.findLast((p) => p.objectKey === objectKey)
    const sent = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]))
    if (issued === undefined || sent.get('content-type') !== issued.contentType || sent.get('if-none-match') !== '*') return 403
    if (issued.contentLength !== undefined && body.length !== issued.contentLength) return 403
    if (this.objects.has(objectKey)) return 412
    const stored: StoredHeaders = {}
    for (const name of STORED_RESPONSE_HEADERS) {
      const value = sent.get(name)
      if (value !== undefined) stored[name] = value
    }
    this.put(objectKey, body, { contentType: issued.contentType, headers: stored })
    return 200
  }

  async getObjectMetadata(objectKey: string): Promise<ObjectMetadata | null> {
    const bytes = this.objects.get(objectKey)
    if (bytes === undefined) return null
    return {
      sizeBytes: bytes.length,
      contentType: this.contentTypes.get(objectKey),
      etag: etagOf(bytes),
      headers: { ...this.storedHeaders.get(objectKey) },
    }
  }

  async readObjectStart(objectKey: string, read: { bytes: number }): Promise<{ object: ObjectMetadata; head: Uint8Array } | null> {
    const object = await this.getObjectMetadata(objectKey)
    const bytes = this.objects.get(objectKey)
    if (object === null || bytes === undefined) return null
    const head = bytes.subarray(0, Math.max(0, read.bytes))
    this.reads.push({ key: objectKey, kind: 'head', bytes: head.length })
    return { object, head }
  }

  async readObject(objectKey: string, read: { maxBytes: number; etag: string }): Promise<Uint8Array> {
    const bytes = this.require(objectKey, read.etag).subarray(0, read.maxBytes + 1)
    this.reads.push({ key: objectKey, kind: 'full', bytes: bytes.length })
    return bytes
  }

  async deleteObject(objectKey: string): Promise<void> {
    if (this.failDeletes) throw new DependencyUnavailableError('STORAGE_UNAVAILABLE', 'storage is down')
    this.objects.delete(objectKey)
    this.contentTypes.delete(objectKey)
    this.storedHeaders.delete(objectKey)
    this.deleted.push(objectKey)
  }

  /** VariantStorage: variants live in the same bucket, under variants/{image_id}/. */
  async putVariant(objectKey: string, bytes: Uint8Array, contentType: string): Promise<void> {
    this.events.push(`put-variant:${objectKey}`)
    if (this.failVariantPuts) throw new DependencyUnavailableError('STORAGE_UNAVAILABLE', 'storage is down')
    this.put(objectKey, bytes, { contentType, headers: { 'cache-control': VARIANT_CACHE_CONTROL } })
  }

  async deleteVariants(imageId: string): Promise<number> {
    const keys = this.keysUnder(`variants/${imageId}/`)
    for (const key of keys) await this.deleteObject(key)
    return keys.length
  }

  keysUnder(prefix: string): string[] {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort()
  }

  private require(objectKey: string, etag: string): Uint8Array {
    const bytes = this.objects.get(objectKey)
    if (bytes === undefined) throw new StoredObjectNotFoundError(objectKey)
    if (etagOf(bytes) !== etag) throw new StoredObjectChangedError(objectKey)
    return bytes
  }
}

/** S3's ETag of a single PUT: the quoted hex MD5 of the bytes. */
export function etagOf(bytes: Uint8Array): string {
  return `"${createHash('md5').update(bytes).digest('hex')}"`
}
