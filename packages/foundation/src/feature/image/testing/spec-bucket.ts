import type { S3Client } from '@aws-sdk/client-s3'
import { type S3Emulator, startS3Emulator } from '@image-service/devstack'
import { createS3Client } from '../../../shared/storage/s3-client.ts'

export type SpecBucket = { s3: S3Emulator; client: S3Client; bucket: string; stop(): Promise<void> }

/** The production S3 client pointed at an emulator; another secret makes one it refuses. */
export function specS3Client(s3: S3Emulator, bucket: string, secretAccessKey = s3.secretAccessKey): S3Client {
  return createS3Client({
    region: s3.region,
    bucket,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey },
  })
}

/** A bucket on its own S3 emulator, with the production S3 client pointed at it. */
export async function startSpecBucket(bucket: string): Promise<SpecBucket> {
  const s3 = await startS3Emulator({ buckets: [bucket] })
  const client = specS3Client(s3, bucket)
  return {
    s3,
    client,
    bucket,
    async stop() {
      client.destroy()
      await s3.stop()
    },
  }
}
