import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { isS3PreconditionFailed, storageUnavailable } from '../../shared/storage/s3-errors.ts'

/** Port: what the runner does with storage: hand fal a source URL, store results as uploads, discard them. */
export interface ResultStorage {
  /** A presigned GET of the source, valid `expiresInSeconds` (long enough for fal's queue). */
  presignSourceGet(objectKey: string, expiresInSeconds: number): Promise<string>
  /** Stores a result under its upload key unless something is there already (If-None-Match: *). */
  putResult(objectKey: string, bytes: Uint8Array, contentType: string): Promise<'stored' | 'exists'>
  deleteResult(objectKey: string): Promise<void>
}

export function createS3ResultStorage(deps: { client: S3Client; bucket: string }): ResultStorage {
  const { client, bucket } = deps
  return {
    presignSourceGet(objectKey, expiresInSeconds) {
      return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: objectKey }), { expiresIn: expiresInSeconds })
    },
    async putResult(objectKey, bytes, contentType) {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: objectKey,
            Body: bytes,
            ContentType: contentType,
            ContentLength: bytes.byteLength,
            IfNoneMatch: '*',
          }),
        )
        return 'stored'
      } catch (error) {
        // A redelivery after a crash stores the same result again: the first copy stands.
        if (isS3PreconditionFailed(error)) return 'exists'
        throw storageUnavailable('store a result', error)
      }
    },
    async deleteResult(objectKey) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey }))
      } catch (error) {
        throw storageUnavailable('delete a result', error)
      }
    },
  }
}
