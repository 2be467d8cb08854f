import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import { DependencyUnavailableError } from '../../../common/errors.ts'
import type { ImageStorage } from './image-storage.ts'
import { createS3UploadPresigner } from './s3-upload-presigner.ts'
import { StoredObjectNotFoundError } from './upload-error.ts'

/** ImageStorage on S3 or any S3-compatible server. */
export function createS3ImageStorage(deps: { client: S3Client; bucket: string; now?: () => Date }): ImageStorage {
  const { client, bucket } = deps
  const now = deps.now ?? (() => new Date())
  const presignPut = createS3UploadPresigner({ client, bucket })

  const getObjectMetadata: ImageStorage['getObjectMetadata'] = async (objectKey) => {
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey }))
      return { sizeBytes: head.ContentLength ?? 0, contentType: head.ContentType }
    } catch (error) {
      if (isNotFound(error)) return null
      throw unavailable('read object metadata', error)
    }
  }

  return {
    async generatePresignedUploadUrl({ objectKey, contentType, expiresInSeconds }) {
      const signedAt = now()
      try {
        // content-type and if-none-match are signed in (X-Amz-SignedHeaders): storage refuses
        // any other type, and any second PUT once the object exists.
        const url = await presignPut({ objectKey, contentType, expiresInSeconds, signingDate: signedAt })
        return {
          url,
          headers: { 'content-type': contentType, 'if-none-match': '*' },
          expiresAt: new Date(signedAt.getTime() + expiresInSeconds * 1000),
        }
      } catch (error) {
        throw unavailable('presign an upload URL', error)
      }
    },

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
        if (isRangeNotSatisfiable(error)) return new Uint8Array(0)
        if (isNotFound(error)) throw new StoredObjectNotFoundError(objectKey)
        // Some S3-compatible servers (s3rver) break the connection instead of answering 416;
        // an empty object is still not an outage.
        if ((await getObjectMetadata(objectKey).catch(() => null))?.sizeBytes === 0) return new Uint8Array(0)
        throw unavailable('read the head of an object', error)
      }
    },

    async readObject(objectKey) {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }))
        return (await object.Body?.transformToByteArray()) ?? new Uint8Array(0)
      } catch (error) {
        if (isNotFound(error)) throw new StoredObjectNotFoundError(objectKey)
        throw unavailable('read an object', error)
      }
    },

    async deleteObject(objectKey) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey }))
      } catch (error) {
        // S3 already answers 204 for a missing key; some compatible servers answer 404.
        if (isNotFound(error)) return
        throw unavailable('delete an object', error)
      }
    },
  }
}

function httpStatus(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata.httpStatusCode
  return undefined
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false
  return error.name === 'NotFound' || error.name === 'NoSuchKey' || httpStatus(error) === 404
}

function isRangeNotSatisfiable(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === 'InvalidRange' || httpStatus(error) === 416)
}

function unavailable(action: string, error: unknown): DependencyUnavailableError {
  const reason = error instanceof Error ? error.message : String(error)
  return new DependencyUnavailableError('STORAGE_UNAVAILABLE', `object storage could not ${action}: ${reason}`, {
    cause: error,
  })
}
