import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * What s3rver leaves open, closed in front of it. s3rver verifies a SigV4 signature when one
 * is present, but it lets anonymous requests through, accepts SigV2, ignores the credential
 * scope, and (because `Number.isNaN(date)` is never true for a Date) treats a presigned URL
 * with a malformed X-Amz-Date or X-Amz-Expires as never expiring. Real S3 rejects all of that.
 */
export type S3Denial = { status: number; code: string; message: string }

const ISO8601_BASIC = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/
const MAX_PRESIGN_SECONDS = 604_800

export function checkS3Request(req: IncomingMessage, region: string, now: Date): S3Denial | undefined {
  if (req.method === 'OPTIONS') return undefined // CORS preflight is unauthenticated in S3 too
  const query = new URL(req.url ?? '/', 'http://s3.local').searchParams
  const authorization = req.headers.authorization
  if (query.has('Signature') || query.has('AWSAccessKeyId') || authorization?.startsWith('AWS ')) {
    return denied('InvalidRequest', 'Signature version 2 is not supported; use AWS4-HMAC-SHA256.', 400)
  }
  if (authorization !== undefined) return checkHeaderAuth(authorization, region)
  if (query.has('X-Amz-Algorithm') || query.has('X-Amz-Signature')) return checkPresigned(query, region, now)
  return denied('AccessDenied', 'Anonymous access is not allowed; sign the request with SigV4.')
}

/**
 * `If-None-Match: *` on a PUT (S3 conditional writes) asks for a create that never overwrites.
 * s3rver ignores the header; refuseOverwrites (s3-conditional-put.ts) enforces it.
 */
export function isCreateOnlyPut(req: IncomingMessage): boolean {
  if (req.method !== 'PUT' || req.headers['if-none-match'] !== '*') return false
  return !new URL(req.url ?? '/', 'http://s3.local').searchParams.has('uploadId')
}

function checkHeaderAuth(authorization: string, region: string): S3Denial | undefined {
  const match = /^AWS4-HMAC-SHA256 (.*)$/.exec(authorization)
  if (!match?.[1]) return denied('InvalidArgument', 'Unsupported Authorization Type', 400)
  const parts = new Map(
    match[1].split(',').map((part) => {
      const [name = '', ...value] = part.trim().split('=')
      return [name, value.join('=')] as const
    }),
  )
  return checkScope(parts.get('Credential'), parts.get('SignedHeaders'), region)
}

function checkPresigned(query: URLSearchParams, region: string, now: Date): S3Denial | undefined {
  if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
    return denied('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"', 400)
  }
  const signedAt = parseAmzDate(query.get('X-Amz-Date'))
  if (signedAt === undefined) {
    return denied('AuthorizationQueryParametersError', 'X-Amz-Date must be in the ISO8601 basic format.', 400)
  }
  const expiresRaw = query.get('X-Amz-Expires') ?? ''
  const expires = /^\d{1,7}$/.test(expiresRaw) ? Number(expiresRaw) : Number.NaN
  if (!(expires >= 1 && expires <= MAX_PRESIGN_SECONDS)) {
    return denied('AuthorizationQueryParametersError', 'X-Amz-Expires must be between 1 and 604800 seconds.', 400)
  }
  if (now.getTime() >= signedAt + expires * 1000) return denied('AccessDenied', 'Request has expired')
  if (!query.get('X-Amz-Signature')) return denied('AuthorizationQueryParametersError', 'X-Amz-Signature missing.', 400)
  return checkScope(query.get('X-Amz-Credential') ?? undefined, query.get('X-Amz-SignedHeaders') ?? undefined, region)
}

/** Credential is `<key>/<yyyymmdd>/<region>/s3/aws4_request`; the Host header must be signed. */
function checkScope(credential: string | undefined, signedHeaders: string | undefined, region: string) {
  const scope = credential?.split('/') ?? []
  if (scope.length !== 5 || scope[3] !== 's3' || scope[4] !== 'aws4_request') {
    return denied('AuthorizationHeaderMalformed', 'The credential scope is malformed.', 400)
  }
  if (scope[2] !== region) {
    return denied('AuthorizationHeaderMalformed', `The region '${scope[2]}' is wrong; expecting '${region}'.`, 400)
  }
  if (!signedHeaders?.split(';').includes('host')) {
    return denied('AccessDenied', 'The Host header must be signed.')
  }
  return undefined
}

function parseAmzDate(value: string | null): number | undefined {
  const m = value === null ? null : ISO8601_BASIC.exec(value)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s] = m.map(Number)
  const time = Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s)
  return Number.isNaN(time) ? undefined : time
}

function denied(code: string, message: string, status = 403): S3Denial {
  return { status, code, message }
}

export function writeS3Error(res: ServerResponse, denial: S3Denial): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${denial.code}</Code><Message>${escapeXml(denial.message)}</Message></Error>`
  res.writeHead(denial.status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`)
}
