import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import {
  isS3NotFound,
  isS3RangeNotSatisfiable,
  StoredObjectNotFoundError,
  storageUnavailable,
} from '../../../shared/storage/s3-errors.ts'
import { deleteS3Object } from '../upload/s3-upload-storage.ts'
import type { ValidationStorage } from './validation-storage.ts'

/** ValidationStorage on S3 or any S3-compatible server. */
export function createS3ValidationStorage(deps: { client: S3Client; bucket: string }): ValidationStorage {
  const { client, bucket } = deps

  const getObjectMetadata: ValidationStorage['getObjectMetadata'] = async (objectKey) => {
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey }))
      return { sizeBytes: head.ContentLength ?? 0, contentType: head.ContentType }
    } catch (error) {
      if (isS3NotFound(error)) return null
      throw storageUnavailable('read object metadata', error)
    }
  }

  return {
    getObjectMetadata,

    async readObjectHead(objectKey, bytes) {
      if (bytes <= 0) return new Uint8Array(0)
      try {
        const object = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: objectKey, Range: `bytes=0-${bytes - 1}` }),
        )
        const body = (await object.Body?.transformToByteArray()) ?? new Uint8Array(0)
        // Servers that ignore Range send everything; never hand back more than asked.
        return body.length > bytes ? body.subarray(0, bytes) : body
      } catch (error) {
        // A range on an empty object is unsatisfiable (416 on S3): the head of nothing is nothing.
        if (isS3RangeNotSatisfiable(error)) return new Uint8Array(0)
        if (isS3NotFound(error)) throw new StoredObjectNotFoundError(objectKey)
        // Some S3-compatible servers (s3rver) break the connection instead of answering 416;
        // an empty object is still not an outage.
        if ((await getObjectMetadata(objectKey).catch(() => null))?.sizeBytes === 0) return new Uint8Array(0)
        throw storageUnavailable('read the head of an object', error)
      }
    },

    async readObject(objectKey) {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }))
        return (await object.Body?.transformToByteArray()) ?? new Uint8Array(0)
      } catch (error) {
        if (isS3NotFound(error)) throw new StoredObjectNotFoundError(objectKey)
        throw storageUnavailable('read an object', error)
      }
    },

    deleteObject: (objectKey) => deleteS3Object(client, bucket, objectKey),
  }
}
