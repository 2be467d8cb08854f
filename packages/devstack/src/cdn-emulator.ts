import { createPublicKey } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { GetObjectCommand, type GetObjectCommandOutput, S3ServiceException } from '@aws-sdk/client-s3'
import { verifyCannedSignedUrl } from './cloudfront-signed-url.ts'
import { createEmulatorS3Client, type S3EmulatorAccess } from './emulator-s3-client.ts'
import { writeS3Error } from './s3-auth-guard.ts'

export type CdnEmulatorOptions = {
  port?: number
  host?: string
  s3: S3EmulatorAccess
  bucket: string
  publicKeyPem: string
  keyPairId: string
}

export type CdnEmulator = { baseUrl: string; stop(): Promise<void> }

/**
 * A CloudFront stand-in: GET /{key}?Expires&Signature&Key-Pair-Id is served from the bucket only
 * when the canned-policy signature verifies, the key pair id is ours and the URL has not expired.
 * Objects are fetched from S3 with a signed GetObject, as an origin access control would, and
 * served with the headers stored with them.
 */
export async function startCdnEmulator(options: CdnEmulatorOptions): Promise<CdnEmulator> {
  const host = options.host ?? '127.0.0.1'
  const publicKey = createPublicKey(options.publicKeyPem)
  const s3 = createEmulatorS3Client(options.s3)
  let baseUrl = ''

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return writeS3Error(res, { status: 405, code: 'MethodNotAllowed', message: 'Only GET and HEAD are allowed.' })
    }
    const target = req.url ?? '/'
    const verdict = verifyCannedSignedUrl({ baseUrl, requestTarget: target, publicKey, keyPairId: options.keyPairId, now: new Date() })
    if (!verdict.ok) return writeS3Error(res, { status: 403, code: 'AccessDenied', message: verdict.reason })

    const key = objectKeyOf(target)
    if (key === undefined) return writeS3Error(res, { status: 404, code: 'NoSuchKey', message: 'Not found.' })
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: options.bucket, Key: key }))
      res.writeHead(200, { ...originHeaders(object), 'X-Content-Type-Options': 'nosniff' })
      const body = object.Body as Readable | undefined
      if (req.method === 'HEAD' || !body) {
        body?.destroy()
        return res.end()
      }
      await pipeline(body, res)
    } catch (error) {
      if (res.headersSent) return res.destroy()
      const missing = error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404)
      if (missing) return writeS3Error(res, { status: 404, code: 'NoSuchKey', message: 'Not found.' })
      writeS3Error(res, { status: 502, code: 'OriginError', message: 'The origin could not be reached.' })
    }
  }

  const server = createServer((req, res) => void handle(req, res))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  baseUrl = `http://${host}:${(server.address() as AddressInfo).port}`

  return {
    baseUrl,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      s3.destroy()
    },
  }
}

/**
 * The stored object's own headers, as CloudFront forwards them from an S3 origin when no
 * response-headers policy overrides them: whatever an uploader stored (a Content-Disposition,
 * a Cache-Control) reaches the viewer, so tests see it too.
 */
function originHeaders(object: GetObjectCommandOutput): Record<string, string | number> {
  const headers: Record<string, string | number | undefined> = {
    'Content-Type': object.ContentType ?? 'application/octet-stream',
    'Content-Length': object.ContentLength,
    'Content-Disposition': object.ContentDisposition,
    'Content-Encoding': object.ContentEncoding,
    'Content-Language': object.ContentLanguage,
    'Cache-Control': object.CacheControl,
    Expires: object.ExpiresString ?? object.Expires?.toUTCString(),
    ETag: object.ETag,
    'Last-Modified': object.LastModified?.toUTCString(),
  }
  const present = (entry: [string, string | number | undefined]): entry is [string, string | number] =>
    entry[1] !== undefined && entry[1] !== ''
  return Object.fromEntries(Object.entries(headers).filter(present))
}

/** `/uploads/a%20b.png?...` -> `uploads/a b.png`; undefined when empty or not decodable. */
function objectKeyOf(target: string): string | undefined {
  const path = target.split('?', 1)[0] ?? ''
  try {
    const key = decodeURIComponent(path.slice(1))
    return key === '' ? undefined : key
  } catch {
    return undefined
  }
}
