import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { isS3NotFound, storageUnavailable } from './s3-errors.ts'

/** Idempotent delete, shared by both apps' adapters. */
export async function deleteS3Object(client: S3Client, bucket: string, objectKey: string): Promise<void> {
  try {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey }))
  } catch (error) {
    // S3 already answers 204 for a missing key; some compatible servers answer 404.
    if (isS3NotFound(error)) return
    throw storageUnavailable('delete an object', error)
  }
}

/**
 * Deletes every object under `prefix` (such as `variants/{image_id}/`) and returns how many
 * there were; an empty prefix is success. Listed again from the start after each page is
 * deleted, until the prefix is empty. One DeleteObject per key rather than DeleteObjects: the
 * latter needs a checksum header that not every S3-compatible store (the emulator included)
 * accepts, and an image has a handful of variants.
 */
export async function deleteS3Prefix(client: S3Client, bucket: string, prefix: string): Promise<number> {
  let deleted = 0
  try {
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
}
