import { LRUCache } from 'lru-cache'
import type { ImageCdn, SignedDownload } from './image-cdn.ts'

/** Signs a GET of one object that stays valid until `expiresAt` (a whole second). */
export interface DownloadUrlSigner {
  sign(objectKey: string, expiresAt: Date, now: Date): string | Promise<string>
}

export type ExpiryPolicy = {
  ttlSeconds: number
  /** 0 disables both alignment and caching. */
  windowSeconds: number
  /** Most signed URLs kept; 0 keeps aligned expiries but caches nothing. */
  cacheSize: number
}

/**
 * When a URL asked for at `nowMs` expires. With a window, the expiry is the end of the
 * window containing now + TTL, so every request in that window shares one expiry (a URL
 * lives between TTL and TTL + window). Whole seconds: signed policies use epoch seconds.
 */
export function alignedExpiry(nowMs: number, policy: Pick<ExpiryPolicy, 'ttlSeconds' | 'windowSeconds'>): Date {
  const earliest = nowMs / 1000 + policy.ttlSeconds
  const seconds = policy.windowSeconds > 0 ? Math.ceil(earliest / policy.windowSeconds) * policy.windowSeconds : Math.ceil(earliest)
  return new Date(seconds * 1000)
}

/**
 * Decorates a signer into an ImageCdn whose expiries are aligned to windows and whose URLs
 * are cached per (object key, expiry) in a bounded LRU. RSA signing is the hot cost of the
 * batch endpoint; with aligned expiries, repeated requests within a window reuse the
 * byte-identical URL (which also lets browsers and the CDN cache it).
 */
export function withAlignedExpiryCache(signer: DownloadUrlSigner, policy: ExpiryPolicy & { now?: () => number }): ImageCdn {
  const now = policy.now ?? Date.now
  const cache = policy.windowSeconds > 0 && policy.cacheSize > 0 ? new LRUCache<string, string>({ max: policy.cacheSize }) : undefined

  return {
    async signDownloadUrl(objectKey: string): Promise<SignedDownload> {
      const nowMs = now()
      const expiresAt = alignedExpiry(nowMs, policy)
      if (cache === undefined) return { url: await signer.sign(objectKey, expiresAt, new Date(nowMs)), expiresAt }
      // Expiry first: object keys are ours (uploads/{ulid}) but a separator-safe key costs nothing.
      const cacheKey = `${expiresAt.getTime()}\n${objectKey}`
      let url = cache.get(cacheKey)
      if (url === undefined) {
        url = await signer.sign(objectKey, expiresAt, new Date(nowMs))
        cache.set(cacheKey, url)
      }
      return { url, expiresAt }
    },
  }
}
