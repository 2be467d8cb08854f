import { describe, expect, it } from 'vitest'
import { InvalidLabelsError, parseLabels } from './labels.ts'

describe('parseLabels', () => {
  it('accepts what a batch renderer or a template designer files images by', () => {
    expect(parseLabels({ batch_id: 'b42', record_id: 'r7' })).toEqual({ batch_id: 'b42', record_id: 'r7' })
    expect(parseLabels({ feature: 'templates' })).toEqual({ feature: 'templates' })
    expect(parseLabels(undefined)).toEqual({})
    expect(parseLabels({ [`k${'x'.repeat(31)}`]: 'é'.repeat(128) })).toHaveProperty(`k${'x'.repeat(31)}`)
  })

  it.each([
    ['eleven labels', Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']))],
    ['an upper-case key', { Feature: 'x' }],
    ['a key starting with a digit', { '1a': 'x' }],
    ['a 33-character key', { [`k${'x'.repeat(32)}`]: 'x' }],
    ['a key with a slash', { 'a/b': 'x' }],
    ['an empty value', { a: '' }],
    ['a 129-character value', { a: 'x'.repeat(129) }],
    ['a value with a newline', { a: 'x\ny' }],
    ['a number value', { a: 5 }],
    ['an array', ['a']],
    ['a string', 'a=b'],
    ['null', null],
  ])('refuses %s with INVALID_LABELS', (_label, input) => {
    expect(() => parseLabels(input)).toThrow(InvalidLabelsError)
    expect(() => parseLabels(input)).toThrow(expect.objectContaining({ code: 'INVALID_LABELS', kind: 'invalid' }))
  })

  it('names every problem at once', () => {
    expect(() => parseLabels({ A: '', b: 'x'.repeat(200) })).toThrow(/must match.*must be 1\.\.128/)
  })
})
