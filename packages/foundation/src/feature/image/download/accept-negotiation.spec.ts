import { describe, expect, it } from 'vitest'
import type { ImageVariantFormat } from '../../../shared/image/image.ts'
import { negotiateVariantFormat, parseAccept } from './accept-negotiation.ts'

const ALL: ImageVariantFormat[] = ['webp', 'avif', 'jpeg']
const CHROME = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8'
const SAFARI =
  'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5'
const FIREFOX_OLD = 'image/webp,*/*'

describe('negotiateVariantFormat', () => {
  it.each([
    ['a current Chrome', CHROME, ALL, 'avif'],
    ['a current Safari', SAFARI, ALL, 'avif'],
    ['a browser without avif', FIREFOX_OLD, ALL, 'avif'], // */* takes avif at q=1 too
    ['image/webp alone', 'image/webp', ALL, 'webp'],
    ['jpeg only', 'image/jpeg', ALL, 'jpeg'],
    ['image/* (any image)', 'image/*', ALL, 'avif'],
    ['*/*', '*/*', ['webp', 'jpeg'], 'webp'],
    ['only webp generated, Chrome', CHROME, ['webp'], 'webp'],
    ['avif excluded by q=0 under image/*', 'image/*, image/avif;q=0', ALL, 'webp'],
    ['avif and webp excluded under */*', '*/*, image/avif;q=0, image/webp;q=0', ALL, 'jpeg'],
    ['the highest q wins over the preference order', 'image/avif;q=0.5, image/webp;q=0.9', ALL, 'webp'],
    ['equal q: avif, then webp, then jpeg', 'image/jpeg;q=0.7, image/webp;q=0.7', ALL, 'webp'],
    ['a more specific range beats image/*', 'image/*;q=0.1, image/jpeg', ALL, 'jpeg'],
    ['case and spaces', ' IMAGE/WEBP ; Q=1 ', ALL, 'webp'],
  ] as const)('%s: %s -> %s', (_name, accept, generated, expected) => {
    expect(negotiateVariantFormat(accept, generated)).toBe(expected)
  })

  it.each([
    ['no Accept header', undefined],
    ['an empty Accept', ''],
    ['only other types', 'text/html, application/json'],
    ['every image type refused', 'image/*;q=0'],
    ['everything refused', '*/*;q=0'],
    ['garbage', ';;;,/,image,*/webp,image/webp;q=2,image/avif;q=abc'],
  ])('with %s falls back to webp, then jpeg, then avif among those generated', (_name, accept) => {
    expect(negotiateVariantFormat(accept, ALL)).toBe('webp')
    expect(negotiateVariantFormat(accept, ['avif', 'jpeg'])).toBe('jpeg')
    expect(negotiateVariantFormat(accept, ['avif'])).toBe('avif')
  })

  it('falls back even when the only generated format is refused (a client always gets an image)', () => {
    expect(negotiateVariantFormat('image/webp;q=0, image/*', ['webp'])).toBe('webp')
  })

  it('finds nothing when nothing was generated', () => {
    expect(negotiateVariantFormat(CHROME, [])).toBeUndefined()
    expect(negotiateVariantFormat(undefined, [])).toBeUndefined()
  })
})

describe('parseAccept', () => {
  it('reads type, subtype and q; skips a range with a malformed q or type', () => {
    expect(parseAccept('image/webp;q=0.5;x=y, image/*, */*;q=0, */webp, image/png;q=1.5, text')).toEqual([
      { type: 'image', subtype: 'webp', q: 0.5 },
      { type: 'image', subtype: '*', q: 1 },
      { type: '*', subtype: '*', q: 0 },
    ])
  })

  it('reads no more than 64 ranges of a hostile header', () => {
    expect(parseAccept(Array.from({ length: 10_000 }, () => 'image/webp').join(','))).toHaveLength(64)
  })
})
