import type { S3Client } from '@aws-sdk/client-s3'
import { deleteS3Object, deleteS3Prefix } from '../../shared/storage/s3-deletes.ts'
import { createS3MultipartStorage } from '../image/upload/s3-multipart-storage.ts'
import type { LifecycleStorage } from './lifecycle-storage.ts'

/** LifecycleStorage on S3 or any S3-compatible server. */
export function createS3LifecycleStorage(deps: { client: S3Client; bucket: string }): LifecycleStorage {
  const { client, bucket } = deps
  const multipart = createS3MultipartStorage(deps)
  return {
    objectExists: multipart.objectExists,
    abortMultipartUpload: multipart.abortMultipartUpload,
    deleteObject: (objectKey) => deleteS3Object(client, bucket, objectKey),
    deletePrefix: (prefix) => deleteS3Prefix(client, bucket, prefix),
  }
}
