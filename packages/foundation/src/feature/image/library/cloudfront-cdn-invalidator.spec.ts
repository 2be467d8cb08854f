import { type CloudFrontApiEmulator, startCloudFrontApiEmulator } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCloudFrontCdnInvalidator, createCloudFrontClient, MAX_PATHS_PER_INVALIDATION } from './cloudfront-cdn-invalidator.ts'

describe('CloudFront CDN invalidator against the CloudFront API emulator', () => {
  let api: CloudFrontApiEmulator
  let client: ReturnType<typeof createCloudFrontClient>
  beforeAll(async () => {
    api = await startCloudFrontApiEmulator()
    client = createCloudFrontClient({
      region: 'us-east-1',
      endpoint: api.endpoint,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    })
  })
  afterAll(async () => {
    client?.destroy()
    await api?.stop()
  })
  const invalidator = (maxAttempts = 6) =>
    createCloudFrontCdnInvalidator({ client, distributionId: api.distributionId, maxAttempts, backoffMs: () => 1 })

  it('sends the paths, once each, in batches CloudFront accepts', async () => {
    const before = api.calls()
    await invalidator().invalidate(['/uploads/A', '/uploads/A', '/variants/A/*'])
    expect(api.invalidatedPaths().slice(-2)).toEqual(['/uploads/A', '/variants/A/*'])
    const many = Array.from({ length: MAX_PATHS_PER_INVALIDATION + 1 }, (_, i) => `/uploads/${i}`)
    await invalidator().invalidate(many)
    expect(api.calls() - before).toBe(3)
  })

  it('retries a batch refused with TooManyInvalidationsInProgress', async () => {
    api.throttleNext(2)
    const before = api.calls()
    await invalidator().invalidate(['/uploads/THROTTLED'])
    expect(api.calls() - before).toBe(3)
    expect(api.invalidatedPaths()).toContain('/uploads/THROTTLED')
  })

  it('gives up after its tries with STORAGE_UNAVAILABLE', async () => {
    api.throttleNext(5)
    await expect(invalidator(2).invalidate(['/uploads/NEVER'])).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' })
    expect(api.invalidatedPaths()).not.toContain('/uploads/NEVER')
    api.throttleNext(0)
  })
})
