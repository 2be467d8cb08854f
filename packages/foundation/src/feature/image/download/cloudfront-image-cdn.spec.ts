import { generateKeyPairSync, verify } from 'node:crypto'
import { getSignedUrl } from '@aws-sdk/cloudfront-signer'
import { describe, expect, it } from 'vitest'
import { cannedPolicy, createCloudFrontImageCdn, createCloudFrontUrlSigner } from './cloudfront-image-cdn.ts'
import { manualClock } from './testing/fakes.ts'

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
})
const key = { baseUrl: 'https://d111111abcdef8.cloudfront.net', keyPairId: 'K2JCJMDEHXQW5F', privateKey }
const T0 = Date.UTC(2030, 0, 1, 0, 0, 0)

/** Undoes CloudFront's URL-safe base64 (- -> +, _ -> =, ~ -> /). */
function fromCloudFrontBase64(value: string): Buffer {
  return Buffer.from(
    value.replace(/[-_~]/g, (c) => (c === '-' ? '+' : c === '_' ? '=' : '/')),
    'base64',
  )
}

describe('createCloudFrontImageCdn', () => {
  it('issues {baseUrl}/{object_key} with Expires, Key-Pair-Id and a canned-policy signature the public key verifies', async () => {
    const clock = manualClock(T0 + 42_000)
    const cdn = createCloudFrontImageCdn({ ...key, ttlSeconds: 600, windowSeconds: 300, cacheSize: 10, now: clock.now })

    const { url, expiresAt } = await cdn.signDownloadUrl('uploads/01J0000000000000000000000A')
    const parsed = new URL(url)
    expect(`${parsed.origin}${parsed.pathname}`).toBe(`${key.baseUrl}/uploads/01J0000000000000000000000A`)
    expect([...parsed.searchParams.keys()].sort()).toEqual(['Expires', 'Key-Pair-Id', 'Signature'])
    expect(parsed.searchParams.get('Key-Pair-Id')).toBe(key.keyPairId)

    // expires when config says: end of the window containing now + 600 s
    const expires = Number(parsed.searchParams.get('Expires'))
    expect(expires).toBe((T0 + 900_000) / 1000)
    expect(expiresAt.getTime()).toBe(expires * 1000)

    const policy = cannedPolicy(`${parsed.origin}${parsed.pathname}`, expires)
    expect(policy).toBe(
      `{"Statement":[{"Resource":"${key.baseUrl}/uploads/01J0000000000000000000000A","Condition":{"DateLessThan":{"AWS:EpochTime":${expires}}}}]}`,
    )
    const signature = fromCloudFrontBase64(parsed.searchParams.get('Signature') ?? '')
    expect(verify('RSA-SHA1', Buffer.from(policy), publicKey, signature)).toBe(true)
    expect(verify('RSA-SHA1', Buffer.from(policy.replace(String(expires), String(expires + 1))), publicKey, signature)).toBe(false)
  })

  it('expires at now + TTL when the window is 0', async () => {
    const cdn = createCloudFrontImageCdn({ ...key, ttlSeconds: 60, windowSeconds: 0, cacheSize: 0, now: manualClock(T0).now })
    const { url, expiresAt } = await cdn.signDownloadUrl('uploads/X')
    expect(expiresAt.getTime()).toBe(T0 + 60_000)
    expect(new URL(url).searchParams.get('Expires')).toBe(String((T0 + 60_000) / 1000))
  })

  it('produces URLs byte-identical to @aws-sdk/cloudfront-signer', () => {
    const signer = createCloudFrontUrlSigner({ ...key, baseUrl: `${key.baseUrl}/` })
    for (const [objectKey, expiresMs] of [
      ['uploads/01J0000000000000000000000A', T0 + 900_000],
      ['uploads/7ZZZZZZZZZZZZZZZZZZZZZZZZZ', T0 + 1_234_000],
    ] as const) {
      const ours = signer.sign(objectKey, new Date(expiresMs), new Date(T0))
      const library = getSignedUrl({
        url: `${key.baseUrl}/${objectKey}`,
        keyPairId: key.keyPairId,
        privateKey,
        dateLessThan: new Date(expiresMs).toISOString(),
      })
      expect(ours).toBe(library)
    }
  })

  it('accepts a PKCS#8 key as well', () => {
    const pkcs8 = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    })
    const url = createCloudFrontUrlSigner({ ...key, privateKey: pkcs8.privateKey }).sign('uploads/X', new Date(T0), new Date(T0))
    const signature = fromCloudFrontBase64(new URL(url).searchParams.get('Signature') ?? '')
    expect(verify('RSA-SHA1', Buffer.from(cannedPolicy(`${key.baseUrl}/uploads/X`, T0 / 1000)), pkcs8.publicKey, signature)).toBe(true)
  })
})
