import type { CdnInvalidator } from './cdn-invalidator.ts'
import { MAX_PATHS_PER_INVALIDATION } from './cloudfront-cdn-invalidator.ts'

/**
 * Collects the paths of concurrent deletes for up to `maxWaitMs` (or until a full batch) and
 * sends them as one invalidation: CloudFront limits the invalidations in flight, not the
 * paths in one. Every caller's promise settles with the batch its paths went in.
 */
export function createBatchingCdnInvalidator(
  inner: CdnInvalidator,
  options: { maxWaitMs?: number } = {},
): CdnInvalidator & { flush(): Promise<void> } {
  const maxWaitMs = options.maxWaitMs ?? 200
  let pending: { paths: Set<string>; waiters: { resolve: () => void; reject: (e: unknown) => void }[]; timer: NodeJS.Timeout } | undefined

  function send(): Promise<void> {
    const batch = pending
    pending = undefined
    if (batch === undefined) return Promise.resolve()
    clearTimeout(batch.timer)
    return inner.invalidate([...batch.paths]).then(
      () => {
        for (const w of batch.waiters) w.resolve()
      },
      (error: unknown) => {
        for (const w of batch.waiters) w.reject(error)
      },
    )
  }

  return {
    invalidate(paths) {
      return new Promise<void>((resolve, reject) => {
        pending ??= { paths: new Set(), waiters: [], timer: setTimeout(() => void send(), maxWaitMs) }
        for (const path of paths) pending.paths.add(path)
        pending.waiters.push({ resolve, reject })
        if (pending.paths.size >= MAX_PATHS_PER_INVALIDATION) void send()
      })
    },
    flush: send,
  }
}

/** Without a CDN (CDN_MODE=s3-presigned) there is nothing to invalidate. */
export const noCdnInvalidator: CdnInvalidator = { invalidate: async () => {} }
