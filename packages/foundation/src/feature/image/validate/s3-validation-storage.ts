import { HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3'
import {
  createS3ObjectRequests,
  type S3ObjectRead,
  type S3ObjectRequests,
  storedHeadersOf,
} from '../../../shared/storage/s3-object-requests.ts'
import {
  isS3Answer,
  isS3NotFound,
  isS3PreconditionFailed,
  isS3RangeNotSatisfiable,
  StoredObjectChangedError,
  StoredObjectNotFoundError,
  storageUnavailable,
} from '../../../shared/storage/s3-errors.ts'
import { deleteS3Object } from '../../../shared/storage/s3-deletes.ts'
import type { ValidationStorage } from './validation-storage.ts'

/**
 * ValidationStorage on S3 or any S3-compatible server. The reads of every upload go through
 * `objects` (the SDK's signer without its client); the rarer HEAD and delete through the SDK.
 */
export function createS3ValidationStorage(deps: { client: S3Client; bucket: string; objects?: S3ObjectRequests }): ValidationStorage {
  const { client, bucket } = deps
  const objects = deps.objects ?? createS3ObjectRequests({ client, bucket })

  const getObjectMetadata: ValidationStorage['getObjectMetadata'] = async (objectKey) => {
    let head: HeadObjectCommandOutput
    try {
      head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey }))
    } catch (error) {
      if (isS3NotFound(error)) return null
      throw storageUnavailable('read object metadata', error)
    }
    // Every S3-compatible store sends one; without it no read could be pinned to a version.
    if (head.ETag === undefined) throw storageUnavailable('read object metadata', new Error('HEAD answered without an ETag'))
    return { sizeBytes: head.ContentLength ?? 0, contentType: head.ContentType, etag: head.ETag, headers: storedHeadersOf(head) }
  }

  /** GET of the first `limit` bytes of version `etag`, taking in no more than that. */
  async function readUpTo(objectKey: string, limit: number, etag: string, action: string): Promise<Uint8Array> {
    if (limit <= 0) return new Uint8Array(0)
    try {
      const object = await objects.getObject(objectKey, { range: `bytes=0-${limit - 1}`, ifMatch: etag })
      // A store that ignores If-Match still says which version it sent.
      if (object.etag !== undefined && unquote(object.etag) !== unquote(etag)) {
        await readAtMost(object.body, 0)
        throw new StoredObjectChangedError(objectKey)
      }
      return await readAtMost(object.body, limit)
    } catch (error) {
      if (error instanceof StoredObjectChangedError) throw error
      if (isS3PreconditionFailed(error)) throw new StoredObjectChangedError(objectKey)
      // A range on an empty object is unsatisfiable (416 on S3): the head of nothing is nothing.
      if (isS3RangeNotSatisfiable(error)) return new Uint8Array(0)
      if (isS3NotFound(error)) throw new StoredObjectNotFoundError(objectKey)
      // Some S3-compatible servers (s3rver) break the connection instead of answering 416;
      // an empty object is still not an outage.
      if ((await getObjectMetadata(objectKey).catch(() => null))?.sizeBytes === 0) return new Uint8Array(0)
      throw storageUnavailable(action, error)
    }
  }

  const readObjectStart: ValidationStorage['readObjectStart'] = async (objectKey, { bytes }) => {
    const limit = Math.max(1, bytes)
    let object: S3ObjectRead
    try {
      object = await objects.getObject(objectKey, { range: `bytes=0-${limit - 1}` })
    } catch (error) {
      if (isS3NotFound(error)) return null
      // A range of an empty object is unsatisfiable (416 on S3; some S3-compatible servers,
      // s3rver among them, break the connection instead): the HEAD tells its metadata.
      if (isS3RangeNotSatisfiable(error) || !isS3Answer(error)) {
        const empty = await getObjectMetadata(objectKey).catch(() => undefined)
        if (empty === null) return null
        if (empty?.sizeBytes === 0) return { object: empty, head: new Uint8Array(0) }
      }
      throw storageUnavailable('read the start of an object', error)
    }
    try {
      // Every S3-compatible store sends one; without it no later read could be pinned.
      if (object.etag === undefined) throw new Error('GET answered without an ETag')
      const head = await readAtMost(object.body, limit)
      // `bytes 0-4099/123456`; a store that ignores Range answers 200 with the whole length, or
      // with no length at all: then a body that ended early was all of it, and one that did not
      // is longer than the head (the full read, pinned and capped, measures it).
      const ranged = /\/(\d+)$/.exec(object.contentRange ?? '')?.[1]
      const total = ranged !== undefined ? Number(ranged) : (object.contentLength ?? (head.length < limit ? head.length : limit + 1))
      return {
        object: { sizeBytes: total, contentType: object.contentType, etag: object.etag, headers: object.headers },
        head: head.subarray(0, bytes),
      }
    } catch (error) {
      throw storageUnavailable('read the start of an object', error)
    }
  }

  return {
    getObjectMetadata,
    readObjectStart,
    readObject: (objectKey, { maxBytes, etag }) => readUpTo(objectKey, maxBytes + 1, etag, 'read an object'),
    deleteObject: (objectKey) => deleteS3Object(client, bucket, objectKey),
  }
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/"/g, '')
}

/**
 * Reads a response body up to `limit` bytes, then stops: leaving the loop destroys the
 * stream and its connection, so a store that ignores Range cannot make us take in more.
 */
async function readAtMost(body: unknown, limit: number): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array(0)
  if (!isAsyncIterable(body)) throw new Error('the object body is not a readable stream')
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of body) {
    if (total >= limit) break
    const take = Math.min(chunk.length, limit - total)
    chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take))
    total += take
    if (total >= limit) break
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  return bytes
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value
}
