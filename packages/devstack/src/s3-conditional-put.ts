/// <reference path="./s3rver.d.ts" />
import type { S3rverStore } from '@20minutes/s3rver'
import S3Error from '@20minutes/s3rver/lib/models/error.js'

/**
 * Refuses a create-only PUT (`If-None-Match: *`) with 412 when the key already exists. The check
 * sits in s3rver's store, so it runs after s3rver has verified the signature: S3 answers a
 * tampered request 403 whether or not the key exists, and only a genuine request learns that it
 * does. Not atomic with the write, which is enough for an emulator (S3 itself decides atomically).
 */
export function refuseOverwrites(store: S3rverStore, createOnly: () => boolean): void {
  const refuseIfExists = async (bucket: string, key: string) => {
    if (createOnly() && (await store.existsObject(bucket, key))) {
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold')
    }
  }
  const putObject = store.putObject.bind(store)
  store.putObject = async (object) => {
    await refuseIfExists(object.bucket, object.key)
    return putObject(object)
  }
  const copyObject = store.copyObject.bind(store)
  store.copyObject = async (srcBucket, srcKey, destBucket, destKey, metadata) => {
    await refuseIfExists(destBucket, destKey)
    return copyObject(srcBucket, srcKey, destBucket, destKey, metadata)
  }
}
