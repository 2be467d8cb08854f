import { describe, expect, it } from 'vitest'
import { alignedExpiry, withAlignedExpiryCache } from './aligned-expiry-cache.ts'
import { CountingSigner, manualClock } from './testing/fakes.ts'

const T0 = Date.UTC(2030, 0, 1, 0, 0, 0) // a window boundary for any window dividing a day
const policy = { ttlSeconds: 600, windowSeconds: 300, cacheSize: 100 }

describe('alignedExpiry', () => {
  it('ends the window containing now + TTL, so a URL lives between TTL and TTL + window', () => {
    for (const offsetMs of [0, 1, 999, 1000, 150_000, 299_999, 300_000, 300_001, 86_399_999]) {
      const now = T0 + offsetMs
      const expires = alignedExpiry(now, policy).getTime()
      expect(expires).toBeGreaterThanOrEqual(now + 600_000)
      expect(expires).toBeLessThanOrEqual(now + 600_000 + 300_000)
      expect(expires % 300_000).toBe(0)
    }
  })

  it('is now + TTL rounded up to a second when the window is 0', () => {
    expect(alignedExpiry(T0 + 1234, { ttlSeconds: 600, windowSeconds: 0 }).getTime()).toBe(T0 + 602_000)
  })
})

describe('withAlignedExpiryCache', () => {
  it('returns the byte-identical URL within a window and a new one in the next', async () => {
    const clock = manualClock(T0 + 10_000)
    const signer = new CountingSigner()
    const cdn = withAlignedExpiryCache(signer, { ...policy, now: clock.now })

    const first = await cdn.signDownloadUrl('uploads/A')
    clock.advance(200_000) // still inside [T0, T0 + 300 s)
    const second = await cdn.signDownloadUrl('uploads/A')
    expect(second).toEqual(first)
    expect(signer.calls).toBe(1)
    expect(first.expiresAt.getTime()).toBe(T0 + 900_000)

    clock.advance(100_000) // T0 + 310 s: the next window
    const third = await cdn.signDownloadUrl('uploads/A')
    expect(third.url).not.toBe(first.url)
    expect(third.expiresAt.getTime()).toBe(T0 + 1_200_000)
    expect(signer.calls).toBe(2)
  })

  it('caches per object key', async () => {
    const signer = new CountingSigner()
    const cdn = withAlignedExpiryCache(signer, { ...policy, now: manualClock(T0).now })
    const a = await cdn.signDownloadUrl('uploads/A')
    const b = await cdn.signDownloadUrl('uploads/B')
    expect(a.url).not.toBe(b.url)
    expect(signer.calls).toBe(2)
  })

  it("caches an image's original and each of its variants apart, each reused within the window", async () => {
    const signer = new CountingSigner()
    const cdn = withAlignedExpiryCache(signer, { ...policy, now: manualClock(T0).now })
    const keys = ['uploads/A', 'variants/A/thumbnail.webp', 'variants/A/thumbnail.avif', 'variants/A/medium.webp']
    const first = await Promise.all(keys.map((k) => cdn.signDownloadUrl(k)))
    expect(new Set(first.map((s) => s.url)).size).toBe(keys.length)
    expect(await Promise.all(keys.map((k) => cdn.signDownloadUrl(k)))).toEqual(first)
    expect(signer.calls).toBe(keys.length)
  })

  it('keeps at most cacheSize URLs, evicting the least recently used', async () => {
    const signer = new CountingSigner()
    const cdn = withAlignedExpiryCache(signer, { ...policy, cacheSize: 2, now: manualClock(T0).now })
    await cdn.signDownloadUrl('uploads/A')
    await cdn.signDownloadUrl('uploads/B')
    await cdn.signDownloadUrl('uploads/A') // hit; B is now least recently used
    await cdn.signDownloadUrl('uploads/C') // evicts B
    expect(signer.calls).toBe(3)
    await cdn.signDownloadUrl('uploads/A') // still cached
    expect(signer.calls).toBe(3)
    await cdn.signDownloadUrl('uploads/B') // evicted: signed again
    expect(signer.calls).toBe(4)
  })

  it('signs afresh on every call with plain now + TTL when the window is 0', async () => {
    const clock = manualClock(T0 + 500)
    const signer = new CountingSigner()
    const cdn = withAlignedExpiryCache(signer, { ...policy, windowSeconds: 0, now: clock.now })
    const first = await cdn.signDownloadUrl('uploads/A')
    const second = await cdn.signDownloadUrl('uploads/A')
    expect(signer.calls).toBe(2)
    expect(second.url).not.toBe(first.url)
    expect(first.expiresAt.getTime()).toBe(T0 + 601_000)
  })
})
