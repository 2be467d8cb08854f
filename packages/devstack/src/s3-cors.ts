import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * The bucket CORS rule a page needs to upload straight to storage, as S3's PutBucketCors takes
 * it (docs/operations.md gives the same rule for a real bucket):
 * - PUT for the presigned upload and the multipart parts (every other call goes to the api;
 *   downloads shown with <img> need no CORS);
 * - the headers the presigned PUT signs and `upload_headers` tells the client to send;
 * - `ETag` exposed, because a multipart client reads each part's ETag to complete the upload.
 */
export type BucketCorsRule = {
  allowedOrigins: string[]
  allowedMethods: string[]
  allowedHeaders: string[]
  exposeHeaders: string[]
  maxAgeSeconds: number
}

export function browserUploadCorsRule(origins: readonly string[]): BucketCorsRule {
  return {
    allowedOrigins: [...origins],
    allowedMethods: ['PUT'],
    allowedHeaders: ['content-type', 'if-none-match'],
    exposeHeaders: ['ETag'],
    maxAgeSeconds: 3600,
  }
}

/** The rule as the CORSConfiguration document PutBucketCors sends, which s3rver applies per bucket. */
export function corsConfigurationXml(rule: BucketCorsRule): string {
  const tags = (name: string, values: readonly string[]) => values.map((value) => `<${name}>${escapeXml(value)}</${name}>`).join('')
  return [
    '<CORSConfiguration><CORSRule>',
    tags('AllowedOrigin', rule.allowedOrigins),
    tags('AllowedMethod', rule.allowedMethods),
    tags('AllowedHeader', rule.allowedHeaders),
    tags('ExposeHeader', rule.exposeHeaders),
    `<MaxAgeSeconds>${rule.maxAgeSeconds}</MaxAgeSeconds>`,
    '</CORSRule></CORSConfiguration>',
  ].join('')
}

/**
 * S3 puts the CORS headers on its refusals too (an expired URL's 403), so a page can read why.
 * s3rver does for its own errors; this does it for those the devstack answers in front of it.
 */
export function addCorsHeaders(req: IncomingMessage, res: ServerResponse, rule: BucketCorsRule | undefined): void {
  const origin = req.headers.origin
  if (rule === undefined || origin === undefined || !rule.allowedMethods.includes(req.method ?? '')) return
  if (!rule.allowedOrigins.some((allowed) => originMatches(allowed, origin))) return
  res.setHeader('Access-Control-Allow-Origin', rule.allowedOrigins.includes('*') ? '*' : origin)
  res.setHeader('Access-Control-Expose-Headers', rule.exposeHeaders.join(', '))
  res.setHeader('Vary', 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method')
}

/** S3's AllowedOrigin: exact, or with one `*` standing for any run of characters. */
function originMatches(allowed: string, origin: string): boolean {
  const [head = '', tail] = allowed.split('*', 2)
  if (tail === undefined) return allowed === origin
  return origin.length >= head.length + tail.length && origin.startsWith(head) && origin.endsWith(tail)
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`)
}
