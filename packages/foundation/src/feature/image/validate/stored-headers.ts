import type { ObjectMetadata } from './validation-storage.ts'

/**
 * Cache-Control values clients add to our PUT on their own. The Fetch standard makes a
 * request that carries If-None-Match a `no-store` one, which sends `Cache-Control: no-cache`
 * (browsers and Node's fetch alike); its `no-cache` mode sends `max-age=0`. Served back,
 * either only makes caches revalidate.
 */
const CLIENT_CACHE_CONTROL = new Set(['no-cache', 'max-age=0'])

/**
 * The stored headers an upload made exactly as issued could not carry. Any of them fails the
 * upload (`unexpected_headers`): S3 stores them unsigned and the CDN serves them back, so an
 * uploader could force a download named `x.html` or declare an encoding the bytes lack.
 */
export function unexpectedStoredHeaders(headers: ObjectMetadata['headers']): string[] {
  return Object.entries(headers)
    .filter(([name, value]) => !(name === 'cache-control' && CLIENT_CACHE_CONTROL.has(value.trim().toLowerCase())))
    .map(([name]) => name)
}
