import { verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'

export type SignedUrlVerdict = { ok: true } | { ok: false; reason: string }

const SIGNING_PARAMS = new Set(['Expires', 'Signature', 'Key-Pair-Id', 'Hash-Algorithm'])

/**
 * Verifies a CloudFront signed URL that uses a CANNED policy, as CloudFront does: the policy
 * `{"Statement":[{"Resource":<url>,"Condition":{"DateLessThan":{"AWS:EpochTime":<Expires>}}}]}`
 * is rebuilt from the request (Resource = the full URL minus the signing parameters), and the
 * RSA signature (SHA-1, or SHA-256 when Hash-Algorithm=SHA256) is checked against it.
 * Custom policies (`Policy=`) are not accepted.
 */
export function verifyCannedSignedUrl(args: {
  baseUrl: string
  /** The request target exactly as received: raw path and query. */
  requestTarget: string
  publicKey: KeyObject
  keyPairId: string
  now: Date
}): SignedUrlVerdict {
  const [rawPath = '/', rawQuery = ''] = splitOnce(args.requestTarget, '?')
  const params = new URLSearchParams(rawQuery)
  const expiresRaw = params.get('Expires')
  const signature = params.get('Signature')
  const keyPairId = params.get('Key-Pair-Id')
  if (params.has('Policy')) return deny('custom policies are not supported; sign with a canned policy')
  if (!expiresRaw || !signature || !keyPairId) return deny('missing Expires, Signature or Key-Pair-Id')
  if (keyPairId !== args.keyPairId) return deny('unknown Key-Pair-Id')
  if (!/^\d{1,12}$/.test(expiresRaw)) return deny('malformed Expires')
  const expires = Number(expiresRaw)
  if (Math.floor(args.now.getTime() / 1000) >= expires) return deny('the URL has expired')

  const hashAlgorithm = params.get('Hash-Algorithm') ?? 'SHA1'
  if (hashAlgorithm !== 'SHA1' && hashAlgorithm !== 'SHA256') return deny('unsupported Hash-Algorithm')

  const otherParams = rawQuery.split('&').filter((pair) => pair !== '' && !SIGNING_PARAMS.has(splitOnce(pair, '=')[0]))
  const resource = `${args.baseUrl}${rawPath}${otherParams.length ? `?${otherParams.join('&')}` : ''}`
  const policy = JSON.stringify({
    Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': expires } } }],
  })
  const signatureBytes = Buffer.from(fromCloudFrontBase64(signature), 'base64')
  const valid = verify(`RSA-${hashAlgorithm}`, Buffer.from(policy), args.publicKey, signatureBytes)
  return valid ? { ok: true } : deny('the signature does not match')
}

/** CloudFront's URL-safe base64: '+' -> '-', '=' -> '_', '/' -> '~'. */
function fromCloudFrontBase64(value: string): string {
  return value.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/')
}

function splitOnce(value: string, separator: string): [string, string | undefined] {
  const index = value.indexOf(separator)
  return index < 0 ? [value, undefined] : [value.slice(0, index), value.slice(index + 1)]
}

function deny(reason: string): SignedUrlVerdict {
  return { ok: false, reason }
}
