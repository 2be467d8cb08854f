import { S3Client } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { createS3PresignedImageCdn } from './s3-presigned-image-cdn.ts'
import { manualClock } from './testing/fakes.ts'

const client = new S3Client({
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:1',
  forcePathStyle: true,
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
})
const T0 = Date.UTC(2030, 0, 1, 0, 0, 0)

describe('createS3PresignedImageCdn', () => {
  it('presigns a GET whose X-Amz-Date + X-Amz-Expires is the aligned expiry', async () => {
    const clock = manualClock(T0 + 42_500)
    const cdn = createS3PresignedImageCdn({ client, bucket: 'images', ttlSeconds: 600, windowSeconds: 300, cacheSize: 10, now: clock.now })
    const { url, expiresAt } = await cdn.signDownloadUrl('uploads/01J0000000000000000000000A')
    const parsed = new URL(url)
    expect(parsed.pathname).toBe('/images/uploads/01J0000000000000000000000A')
    expect(parsed.searchParams.get('X-Amz-Date')).toBe('20300101T000042Z')
    expect(Number(parsed.searchParams.get('X-Amz-Expires'))).toBe(900 - 42)
    expect(expiresAt.getTime()).toBe(T0 + 900_000)

    clock.advance(100_000)
    expect((await cdn.signDownloadUrl('uploads/01J0000000000000000000000A')).url).toBe(url)
  })

  it('refuses a TTL + window beyond the seven days SigV4 allows', () => {
    expect(() => createS3PresignedImageCdn({ client, bucket: 'images', ttlSeconds: 604_800, windowSeconds: 300, cacheSize: 10 })).toThrow(
      RangeError,
    )
  })
})
