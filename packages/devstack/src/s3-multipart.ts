/// <reference path="./s3rver.d.ts" />
import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { S3rverContext, S3rverMiddleware, S3rverStore } from '@20minutes/s3rver'
import S3Error from '@20minutes/s3rver/lib/models/error.js'

/** S3's smallest part, for every part but the last. */
export const MIN_PART_BYTES = 5 * 1024 * 1024
const MAX_PART_NUMBER = 10_000

type StoredPart = { partNumber: number; etag: string; size: number; lastModified: Date }

/**
 * Multipart uploads as S3 does them, where s3rver 5 does not:
 * - ListParts (GET ?uploadId) and AbortMultipartUpload (DELETE ?uploadId), which s3rver
 *   answers 405;
 * - UploadPart to an upload that does not exist (never started, aborted or completed) is 404
 *   NoSuchUpload, where s3rver created it; a part is written aside and renamed into place, so
 *   a body cut short never replaces a part already stored;
 * - CompleteMultipartUpload checks the part list: ascending part numbers without duplicates
 *   (InvalidPartOrder), each part stored with that ETag (InvalidPart), every part but the last
 *   at least 5 MiB (EntityTooSmall), the upload itself (NoSuchUpload). s3rver ignored ETags,
 *   never checked the minimum and concatenated a duplicated part twice;
 * - the completed object's ETag is S3's: the MD5 of the parts' binary MD5s, then `-` and the
 *   number of parts (s3rver gave the MD5 of the bytes, which no S3 object made of parts has).
 *   The answer, the stored metadata and the ObjectCreated event all carry it.
 * Both routes run inside s3rver's router, after its signature check.
 */
export function supportMultipart(store: S3rverStore): S3rverMiddleware {
  const uploadDir = (bucket: string, uploadId: string) => {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) return undefined
    return join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId)
  }
  const requireUpload = async (bucket: string, key: string | undefined, uploadId: string): Promise<string> => {
    const dir = uploadDir(bucket, uploadId)
    const storedKey = dir === undefined ? undefined : await readFile(join(dir, 'key'), 'utf8').catch(() => undefined)
    if (dir === undefined || storedKey === undefined || (key !== undefined && storedKey !== key)) {
      throw new S3Error(
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        { UploadId: uploadId },
      )
    }
    return dir
  }
  const listStoredParts = async (dir: string): Promise<StoredPart[]> => {
    const names = await readdir(dir)
    const parts = await Promise.all(
      names
        .filter((name) => /^\d+\.md5$/.test(name))
        .map(async (name) => {
          const partNumber = Number(name.slice(0, -4))
          const [etag, info] = await Promise.all([readFile(join(dir, name), 'utf8'), stat(join(dir, String(partNumber)))])
          return { partNumber, etag, size: info.size, lastModified: info.mtime }
        }),
    )
    return parts.sort((a, b) => a.partNumber - b.partNumber)
  }

  store.putPart = async (bucket, uploadId, partNumber, content) => {
    const number = Number(partNumber)
    if (!Number.isInteger(number) || number < 1 || number > MAX_PART_NUMBER) {
      throw new S3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`)
    }
    const dir = await requireUpload(bucket, undefined, uploadId)
    const aside = join(dir, `.${number}.${randomBytes(6).toString('hex')}`)
    try {
      const [size, md5] = await store.putContent(aside, content)
      await rename(aside, join(dir, String(number)))
      await writeFile(join(dir, `${number}.md5`), md5)
      return { size, md5 }
    } finally {
      await rm(aside, { force: true })
    }
  }

  const putObjectMultipart = store.putObjectMultipart.bind(store)
  store.putObjectMultipart = async (bucket, uploadId, parts) => {
    const dir = await requireUpload(bucket, undefined, uploadId)
    for (let i = 1; i < parts.length; i++) {
      if ((parts[i]?.number ?? 0) <= (parts[i - 1]?.number ?? 0)) {
        throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.')
      }
    }
    const stored = new Map((await listStoredParts(dir)).map((part) => [part.partNumber, part]))
    parts.forEach((part, index) => {
      const found = stored.get(part.number)
      if (found === undefined || found.etag !== part.etag) {
        throw new S3Error(
          'InvalidPart',
          "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
          { PartNumber: String(part.number), ETag: part.etag },
        )
      }
      if (index < parts.length - 1 && found.size < MIN_PART_BYTES) {
        throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', {
          ProposedSize: String(found.size),
          MinSizeAllowed: String(MIN_PART_BYTES),
          PartNumber: String(part.number),
        })
      }
    })
    const key = await readFile(join(dir, 'key'), 'utf8')
    const { size } = await putObjectMultipart(bucket, uploadId, parts)
    const md5 = multipartEtag(parts.map((part) => part.etag))
    await writeFile(store.getResourcePath(bucket, key, 'object.md5'), md5)
    return { size, md5 }
  }

  return async (ctx: S3rverContext, next) => {
    const uploadId = ctx.query.uploadId
    if (typeof uploadId !== 'string' || (ctx.method !== 'GET' && ctx.method !== 'DELETE')) return next()
    const [, bucket = '', ...keyParts] = ctx.path.split('/')
    const key = decodeURIComponent(keyParts.join('/'))
    try {
      await next()
      return
    } catch (error) {
      // s3rver's router answers these two with MethodNotAllowed once the request is authenticated.
      if (!(error instanceof S3Error) || error.code !== 'MethodNotAllowed') throw error
    }
    const dir = await requireUpload(bucket, key, uploadId)
    if (ctx.method === 'DELETE') {
      await rm(dir, { recursive: true, force: true })
      ctx.status = 204
      ctx.body = null
      return
    }
    const marker = Number(ctx.query['part-number-marker'] ?? 0)
    const maxParts = Math.min(1000, Math.max(0, Number(ctx.query['max-parts'] ?? 1000)))
    const after = (await listStoredParts(dir)).filter((part) => part.partNumber > marker)
    const page = after.slice(0, maxParts)
    ctx.body = {
      ListPartsResult: {
        '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumberMarker: marker,
        NextPartNumberMarker: page.at(-1)?.partNumber ?? marker,
        MaxParts: maxParts,
        IsTruncated: after.length > page.length,
        Part: page.map((part) => ({
          PartNumber: part.partNumber,
          LastModified: part.lastModified.toISOString(),
          ETag: JSON.stringify(part.etag),
          Size: part.size,
        })),
      },
    }
  }
}

/** S3's ETag of an object completed from parts, without its quotes: `md5(md5(part 1) ‖ … ‖ md5(part n))-n`. */
export function multipartEtag(partEtags: readonly string[]): string {
  const hash = createHash('md5')
  for (const etag of partEtags) hash.update(Buffer.from(etag, 'hex'))
  return `${hash.digest('hex')}-${partEtags.length}`
}
