import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { storageUnavailable } from '../../shared/storage/s3-errors.ts'
import { createS3MultipartStorage } from '../image/upload/s3-multipart-storage.ts'
import { deleteS3Object } from '../image/upload/s3-upload-storage.ts'
import type { LifecycleStorage } from './lifecycle-storage.ts'

/** LifecycleStorage on S3 or any S3-compatible server. */
export function createS3LifecycleStorage(deps: { client: S3Client; bucket: string }): LifecycleStorage {
  const { client, bucket } = deps
  const multipart = createS3MultipartStorage(deps)
  return {
    objectExists: multipart.objectExists,
    abortMultipartUpload: multipart.abortMultipartUpload,
    deleteObject: (objectKey) => deleteS3Object(client, bucket, objectKey),
    async deletePrefix(prefix) {
      let deleted = 0
      try {
        // Listed again from the start after each page is deleted, until the prefix is empty.
        // One DeleteObject per key rather than DeleteObjects: the latter needs a checksum
        // header that not every S3-compatible store (the emulator included) accepts, and an
        // image has a handful of variants.
        for (;;) {
          const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000 }))
          const keys = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key]))
          if (keys.length === 0) return deleted
          for (const key of keys) await deleteS3Object(client, bucket, key)
          deleted += keys.length
        }
      } catch (error) {
        throw storageUnavailable(`delete the objects under ${prefix}`, error)
      }
    },
  }
}
