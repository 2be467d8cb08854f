import type { S3Client } from '@aws-sdk/client-s3'
import { deleteS3Object, deleteS3Prefix } from '../../../shared/storage/s3-deletes.ts'
import { storageUnavailable } from '../../../shared/storage/s3-errors.ts'
import { createS3UploadPresigner } from './s3-upload-presigner.ts'
import type { UploadStorage } from './upload-storage.ts'

/** UploadStorage on S3 or any S3-compatible server. */
export function createS3UploadStorage(deps: { client: S3Client; bucket: string; now?: () => Date }): UploadStorage {
  const { client, bucket } = deps
  const now = deps.now ?? (() => new Date())
  const presignPut = createS3UploadPresigner({ client, bucket })

  return {
    async generatePresignedUploadUrl({ objectKey, contentType, expiresInSeconds, contentLength }) {
      const signedAt = now()
      try {
        // content-type and if-none-match are signed in (X-Amz-SignedHeaders): storage refuses
        // any other type, and any second PUT once the object exists; content-length, when
        // declared, any other size. The client's HTTP stack sends that length itself.
        const url = await presignPut({ objectKey, contentType, expiresInSeconds, signingDate: signedAt, contentLength })
        return {
          url,
          headers: { 'content-type': contentType, 'if-none-match': '*' },
          expiresAt: new Date(signedAt.getTime() + expiresInSeconds * 1000),
        }
      } catch (error) {
        throw storageUnavailable('presign an upload URL', error)
      }
    },

    deleteObject: (objectKey) => deleteS3Object(client, bucket, objectKey),
    deleteVariants: (imageId) => deleteS3Prefix(client, bucket, `variants/${imageId}/`),
  }
}
