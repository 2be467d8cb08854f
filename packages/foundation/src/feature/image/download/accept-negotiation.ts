import type { ImageVariantFormat } from '../../../shared/image/image.ts'

/** Ties between equally acceptable formats go to the smallest file: avif, then webp, then jpeg. */
export const NEGOTIATION_PREFERENCE: readonly ImageVariantFormat[] = ['avif', 'webp', 'jpeg']
/** Without a usable Accept, the format every browser of the last years decodes comes first. */
export const NEGOTIATION_FALLBACK: readonly ImageVariantFormat[] = ['webp', 'jpeg', 'avif']

type MediaRange = { type: string; subtype: string; q: number }

const TOKEN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/
/** An Accept header is short; a hostile one is not parsed past this many ranges. */
const MAX_RANGES = 64

/** The media ranges of an Accept header; a range that does not parse (or has a bad q) is skipped. */
export function parseAccept(header: string | undefined): MediaRange[] {
  if (header === undefined) return []
  const ranges: MediaRange[] = []
  for (const part of header.split(',').slice(0, MAX_RANGES)) {
    const [mediaType = '', ...params] = part.split(';')
    const [type = '', subtype = '', ...extra] = mediaType.trim().toLowerCase().split('/')
    if (extra.length > 0 || !TOKEN.test(type) || !TOKEN.test(subtype) || (type === '*' && subtype !== '*')) continue
    let q = 1
    let valid = true
    for (const param of params) {
      const [name = '', value = ''] = param.split('=').map((s) => s.trim())
      if (name.toLowerCase() !== 'q') continue
      if (QVALUE.test(value)) q = Number(value)
      else valid = false
    }
    if (valid) ranges.push({ type, subtype, q })
  }
  return ranges
}

/**
 * The quality the ranges give `image/{format}`: the most specific matching range decides
 * (`image/webp` over `image/*` over `*\/*`; the first of equally specific ones), so
 * `image/*, image/webp;q=0` excludes webp. 0 when no range matches.
 */
function qualityOf(format: ImageVariantFormat, ranges: readonly MediaRange[]): number {
  let best: { specificity: number; q: number } | undefined
  for (const range of ranges) {
    const specificity =
      range.type === 'image' && range.subtype === format
        ? 2
        : range.type === 'image' && range.subtype === '*'
          ? 1
          : range.type === '*'
            ? 0
            : -1
    if (specificity >= 0 && (best === undefined || specificity > best.specificity)) best = { specificity, q: range.q }
  }
  return best?.q ?? 0
}

/**
 * `format=auto`: which of the formats generated for a variant a request with this Accept
 * header gets. The rule:
 * 1. Each generated format takes the quality (q) of the most specific Accept range matching
 *    it (`image/avif`, else `image/*`, else `*\/*`); q=0 excludes it.
 * 2. The format with the highest q wins; equal q goes to avif, then webp, then jpeg.
 * 3. No Accept header, or none of the generated formats acceptable: the first generated of
 *    webp, jpeg, avif (so a client that states nothing still gets an image).
 * Undefined only when nothing was generated.
 */
export function negotiateVariantFormat(
  accept: string | undefined,
  generated: readonly ImageVariantFormat[],
): ImageVariantFormat | undefined {
  const ranges = parseAccept(accept)
  let chosen: { format: ImageVariantFormat; q: number } | undefined
  for (const format of NEGOTIATION_PREFERENCE) {
    if (!generated.includes(format)) continue
    const q = qualityOf(format, ranges)
    if (q > 0 && (chosen === undefined || q > chosen.q)) chosen = { format, q }
  }
  return chosen?.format ?? NEGOTIATION_FALLBACK.find((format) => generated.includes(format))
}
