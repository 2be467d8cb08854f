import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { storageUnavailable } from '../../../shared/storage/s3-errors.ts'
import { deleteS3Prefix } from '../../../shared/storage/s3-deletes.ts'
import { VARIANT_CACHE_CONTROL, type VariantStorage } from './variant-storage.ts'

/** VariantStorage on S3 or any S3-compatible server. */
export function createS3VariantStorage(deps: { client: S3Client; bucket: string }): VariantStorage {
  const { client, bucket } = deps
  return {
    async putVariant(objectKey, bytes, contentType) {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: objectKey,
            Body: bytes,
            ContentType: contentType,
            ContentLength: bytes.byteLength,
            CacheControl: VARIANT_CACHE_CONTROL,
          }),
        )
      } catch (error) {
        throw storageUnavailable('store a variant', error)
      }
    },
    deleteVariants: (imageId) => deleteS3Prefix(client, bucket, `variants/${imageId}/`),
  }
}
