/// <reference path="./s3rver.d.ts" />
import type { S3rverContext, S3rverMiddleware, S3rverStore } from '@20minutes/s3rver'
import S3Error from '@20minutes/s3rver/lib/models/error.js'

/**
 * ListObjectsV2 pages as S3 gives them. s3rver 5 encrypts its continuation tokens with DES,
 * which OpenSSL 3 (Node 17 and later) no longer offers, so a truncated listing, and any request
 * carrying a continuation token, failed with 500 InternalError. When that happens to an
 * authenticated ListObjectsV2 (the signature was checked by s3rver's router first), the page
 * is listed here from s3rver's store, with an opaque token of our own; every other listing
 * is still answered by s3rver.
 */
export function listObjectsV2Pages(store: S3rverStore): S3rverMiddleware {
  return async (ctx, next) => {
    const bucket = /^\/([^/]+)\/?$/.exec(ctx.path)?.[1]
    if (ctx.method !== 'GET' || bucket === undefined || ctx.query['list-type'] !== '2') return next()
    try {
      await next()
      return
    } catch (error) {
      const unsupportedCipher = (error as { code?: unknown }).code === 'ERR_OSSL_EVP_UNSUPPORTED'
      if (!unsupportedCipher || ctx.state.account === undefined || error instanceof S3Error) throw error
    }
    ctx.body = await listPage(store, bucket, ctx)
  }
}

async function listPage(store: S3rverStore, bucket: string, ctx: S3rverContext) {
  const query = (name: string) => {
    const value = ctx.query[name]
    return typeof value === 'string' && value !== '' ? value : undefined
  }
  const prefix = query('prefix')
  const delimiter = query('delimiter')
  const maxKeysRaw = query('max-keys') ?? '1000'
  const token = query('continuation-token')
  const startAfter = token === undefined ? query('start-after') : readToken(token, bucket)
  // s3rver validated max-keys before it failed; it lists at most 1000.
  const maxKeys = Math.min(1000, Number(maxKeysRaw))
  const result = await store.listObjects(bucket, { prefix, delimiter, startAfter, maxKeys })
  const last = result.objects.at(-1)?.key
  return {
    ListBucketResult: {
      '@': { xmlns: 'http://doc.s3.amazonaws.com/2006-03-01/' },
      Name: bucket,
      Prefix: prefix ?? '',
      StartAfter: token === undefined ? startAfter : undefined,
      ContinuationToken: token,
      NextContinuationToken: result.isTruncated && last !== undefined ? writeToken(bucket, last) : undefined,
      KeyCount: result.objects.length,
      MaxKeys: maxKeysRaw,
      Delimiter: delimiter,
      IsTruncated: result.isTruncated,
      Contents: result.objects.map((object) => ({
        Key: object.key,
        LastModified: object.lastModifiedDate.toISOString(),
        ETag: object.metadata.etag,
        Size: object.size,
        StorageClass: 'STANDARD',
      })),
      CommonPrefixes: result.commonPrefixes.map((common) => ({ Prefix: common })),
    },
  }
}

/** Opaque to clients, as S3's are; it names its bucket, so it is refused for another. */
function writeToken(bucket: string, lastKey: string): string {
  return Buffer.from(JSON.stringify({ bucket, after: lastKey })).toString('base64url')
}

function readToken(token: string, bucket: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
    if (typeof parsed === 'object' && parsed !== null && 'bucket' in parsed && 'after' in parsed) {
      if (parsed.bucket === bucket && typeof parsed.after === 'string') return parsed.after
    }
  } catch {
    // refused below
  }
  throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' })
}
