import type { S3Client } from '@aws-sdk/client-s3'
import { deleteS3Prefix } from '../../../shared/storage/s3-deletes.ts'
import { storageUnavailable } from '../../../shared/storage/s3-errors.ts'
import { createS3ObjectRequests, type S3ObjectRequests } from '../../../shared/storage/s3-object-requests.ts'
import { VARIANT_CACHE_CONTROL, type VariantStorage } from './variant-storage.ts'

/**
 * VariantStorage on S3 or any S3-compatible server. Every upload's variant PUTs go through
 * `objects` (the SDK's signer without its client); the deletes through the SDK.
 */
export function createS3VariantStorage(deps: { client: S3Client; bucket: string; objects?: S3ObjectRequests }): VariantStorage {
  const { client, bucket } = deps
  const objects = deps.objects ?? createS3ObjectRequests({ client, bucket })
  return {
    async putVariant(objectKey, bytes, contentType) {
      try {
        await objects.putObject(objectKey, bytes, { contentType, cacheControl: VARIANT_CACHE_CONTROL })
      } catch (error) {
        throw storageUnavailable('store a variant', error)
      }
    },
    deleteVariants: (imageId) => deleteS3Prefix(client, bucket, `variants/${imageId}/`),
  }
}
