import { decodeTime } from 'ulid'
import { describe, expect, it } from 'vitest'
import { isImageId, newImageId } from './image.ts'

describe('newImageId', () => {
  it('makes distinct ULIDs stamped with the current time, over several refills of its random pool', () => {
    const before = Date.now()
    const ids = Array.from({ length: 2000 }, () => newImageId())
    const after = Date.now()
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) {
      expect(isImageId(id)).toBe(true)
      expect(decodeTime(id)).toBeGreaterThanOrEqual(before)
      expect(decodeTime(id)).toBeLessThanOrEqual(after)
    }
  })

  it('uses every one of the 32 symbols in the random part', () => {
    const symbols = new Set(Array.from({ length: 200 }, () => newImageId().slice(10)).join(''))
    expect(symbols.size).toBe(32)
  })
})
