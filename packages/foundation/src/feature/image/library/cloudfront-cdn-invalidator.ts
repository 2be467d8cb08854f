import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront'
import { ulid } from 'ulid'
import { DependencyUnavailableError } from '../../../common/errors.ts'
import type { CdnInvalidator } from './cdn-invalidator.ts'

/** CloudFront's limit on paths in one invalidation batch. */
export const MAX_PATHS_PER_INVALIDATION = 3000

export type CloudFrontInvalidatorOptions = {
  distributionId: string
  client: CloudFrontClient
  /** Tries for a batch refused with TooManyInvalidationsInProgress (CloudFront allows a few thousand paths in flight). */
  maxAttempts?: number
  /** Pause before try n (n from 1). */
  backoffMs?: (attempt: number) => number
}

/**
 * CreateInvalidation per batch of at most 3000 paths. CloudFront throttles with
 * TooManyInvalidationsInProgress while earlier batches are still running: that is retried
 * with backoff; anything else, or running out of tries, is STORAGE_UNAVAILABLE for the caller.
 */
export function createCloudFrontCdnInvalidator(options: CloudFrontInvalidatorOptions): CdnInvalidator {
  const maxAttempts = options.maxAttempts ?? 6
  const backoffMs = options.backoffMs ?? ((attempt: number) => Math.min(1000 * 2 ** (attempt - 1), 30_000))

  async function send(paths: readonly string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await options.client.send(
          new CreateInvalidationCommand({
            DistributionId: options.distributionId,
            InvalidationBatch: { CallerReference: ulid(), Paths: { Quantity: paths.length, Items: [...paths] } },
          }),
        )
        return
      } catch (error) {
        const throttled = error instanceof Error && error.name === 'TooManyInvalidationsInProgress'
        if (!throttled || attempt >= maxAttempts) {
          throw new DependencyUnavailableError('STORAGE_UNAVAILABLE', `CDN invalidation failed: ${(error as Error).message}`, {
            cause: error,
          })
        }
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)))
      }
    }
  }

  return {
    async invalidate(paths) {
      const unique = [...new Set(paths)]
      for (let i = 0; i < unique.length; i += MAX_PATHS_PER_INVALIDATION) await send(unique.slice(i, i + MAX_PATHS_PER_INVALIDATION))
    },
  }
}

export function createCloudFrontClient(options: {
  region: string
  endpoint?: string | undefined
  credentials?: { accessKeyId: string; secretAccessKey: string }
}) {
  return new CloudFrontClient({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  })
}
