import { PutObjectCommand } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { describe, expect, it, vi } from 'vitest'
import { createS3Client } from '../../../shared/storage/s3-client.ts'
import { createS3UploadPresigner } from './s3-upload-presigner.ts'

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }
const signingDate = new Date('2030-01-02T03:04:05Z')
const keys = ['uploads/01JD0000000000000000000000', 'uploads/01JD0000000000000000000001', 'uploads/7ZZZZZZZZZZZZZZZZZZZZZZZZZ']

const setups = {
  'a path-style custom endpoint': { region: 'us-east-1', bucket: 'images', endpoint: 'http://127.0.0.1:4569', forcePathStyle: true },
  'virtual-hosted AWS': { region: 'eu-west-3', bucket: 'my-images', endpoint: undefined, forcePathStyle: false },
}

describe('createS3UploadPresigner', () => {
  for (const [name, storage] of Object.entries(setups)) {
    it(`gives byte-identical URLs to getSignedUrl, with ${name}`, async () => {
      const client = createS3Client({ ...storage, credentials })
      try {
        const presign = createS3UploadPresigner({ client, bucket: storage.bucket })
        // getSignedUrl clones the client's middleware stack on every call.
        const sdkCalls = vi.spyOn(client.middlewareStack, 'clone')
        for (const [i, objectKey] of keys.entries()) {
          const contentType = i % 2 === 0 ? 'image/png' : 'image/webp'
          // A declared size signs content-length too (the second key).
          const contentLength = i === 1 ? 123_456 : undefined
          // The first call goes through getSignedUrl, the next ones through the reused presigner.
          const ours = await presign({ objectKey, contentType, expiresInSeconds: 300 + i, signingDate, contentLength })
          const sdk = await getSignedUrl(
            client,
            new PutObjectCommand({
              Bucket: storage.bucket,
              Key: objectKey,
              ContentType: contentType,
              IfNoneMatch: '*',
              ContentLength: contentLength,
            }),
            {
              expiresIn: 300 + i,
              signingDate,
              signableHeaders: new Set(['content-type', 'if-none-match', 'content-length']),
            },
          )
          const signed = new URL(ours).searchParams.get('X-Amz-SignedHeaders')
          expect(signed).toBe(
            contentLength === undefined ? 'content-type;host;if-none-match' : 'content-length;content-type;host;if-none-match',
          )
          expect(ours).toBe(sdk)
        }
        // Ours: only the first (learning) call went through getSignedUrl; plus one per sdk URL.
        expect(sdkCalls).toHaveBeenCalledTimes(1 + keys.length)
      } finally {
        client.destroy()
      }
    })
  }

  it('leaves keys with characters that need escaping to getSignedUrl', async () => {
    const client = createS3Client({ ...setups['a path-style custom endpoint'], credentials })
    try {
      const presign = createS3UploadPresigner({ client, bucket: 'images' })
      await presign({ objectKey: keys[0] as string, contentType: 'image/png', expiresInSeconds: 60, signingDate })
      const url = await presign({ objectKey: 'uploads/a b+c', contentType: 'image/png', expiresInSeconds: 60, signingDate })
      expect(new URL(url).pathname).toBe('/images/uploads/a%20b%2Bc')
    } finally {
      client.destroy()
    }
  })
})
