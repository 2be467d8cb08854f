import { createHash, createHmac } from 'node:crypto'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { describe, expect, it } from 'vitest'
import { AwsSha256 } from './aws-sha256.ts'

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

describe('AwsSha256', () => {
  it('hashes like node:crypto, also when digested between updates', async () => {
    const hash = new AwsSha256()
    hash.update('hello ')
    expect(hex(await hash.digest())).toBe(createHash('sha256').update('hello ').digest('hex'))
    hash.update(new Uint8Array([119, 111, 114, 108, 100]))
    expect(hex(await hash.digest())).toBe(createHash('sha256').update('hello world').digest('hex'))
  })

  it('computes HMACs with string, byte and reused keys like node:crypto', async () => {
    const keys = ['AWS4secret', new Uint8Array(32).fill(7), new Uint8Array(32).fill(7), new Uint8Array(32).fill(9), new Uint8Array(0)]
    for (const key of keys) {
      const hmac = new AwsSha256(key)
      hmac.update('20300102')
      expect(hex(await hmac.digest())).toBe(createHmac('sha256', key).update('20300102').digest('hex'))
      hmac.reset()
      hmac.update('again')
      expect(hex(await hmac.digest())).toBe(createHmac('sha256', key).update('again').digest('hex'))
    }
  })

  it('gives the same SigV4 signatures as the SDK default', async () => {
    const options = {
      region: 'eu-west-3',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    }
    const ours = new S3Client({ ...options, sha256: AwsSha256 })
    const sdk = new S3Client(options)
    try {
      const command = () => new PutObjectCommand({ Bucket: 'b', Key: 'uploads/k', ContentType: 'image/png' })
      const presign = { expiresIn: 60, signingDate: new Date('2030-01-02T03:04:05Z') }
      expect(await getSignedUrl(ours, command(), presign)).toBe(await getSignedUrl(sdk, command(), presign))
    } finally {
      ours.destroy()
      sdk.destroy()
    }
  })
})
