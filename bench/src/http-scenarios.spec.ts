import type autocannon from 'autocannon'
import { describe, expect, it } from 'vitest'
import { httpScenarios, referenceScenarios, signingWindowWaitMs } from './http-scenarios.ts'
import type { BenchOwner } from './owners.ts'

const owner = (n: number): BenchOwner => ({
  subject: `owner-${n}`,
  authorization: `Bearer token-of-owner-${n}`,
  imageIds: Array.from({ length: 60 }, (_, i) => `owner-${n}-image-${i}`),
})
const owners = [owner(1), owner(2)]
const scenario = (key: string) => {
  const found = [...httpScenarios, ...referenceScenarios].find((s) => s.key === key)
  if (!found) throw new Error(`no scenario ${key}`)
  return found
}
/** The request autocannon sends: the static part, then setupRequest's changes if any. */
const sent = (request: autocannon.Request): autocannon.Request =>
  typeof request.setupRequest === 'function' ? request.setupRequest({ ...request }, {}) : request

describe('bench HTTP scenarios', () => {
  it.each(['presign', 'single', 'batch', 'ceiling', 'naive'])("%s: each owner's request carries that owner's token", (key) => {
    for (const o of owners) expect(sent(scenario(key).request(o)).headers).toMatchObject({ authorization: o.authorization })
  })

  it("single signed URL asks for one of the token owner's images", () => {
    for (const o of owners) {
      const path = sent(scenario('single').request(o)).path ?? ''
      expect(o.imageIds).toContain(path.slice('/api/image/v1/download/get-signed-url/'.length))
    }
  })

  it("a batch asks for 50 distinct images, all of the token owner's", () => {
    for (const o of owners) {
      const { image_ids } = JSON.parse(String(sent(scenario('batch').request(o)).body)) as { image_ids: string[] }
      expect(new Set(image_ids).size).toBe(50)
      expect(image_ids.filter((id) => !o.imageIds.includes(id))).toEqual([])
    }
  })

  it('the references get the presign request, headers and body, at their own path', () => {
    const presign = scenario('presign').request(owner(1))
    for (const [key, path] of [
      ['ceiling', '/ceiling'],
      ['naive', '/naive'],
    ] as const) {
      expect(scenario(key).request(owner(1))).toEqual({ ...presign, path })
    }
  })
})

describe('signingWindowWaitMs', () => {
  const signing = { ttlSeconds: 600, windowSeconds: 300 }
  it('waits past the next roll of the shared expiry window when it falls within the span', () => {
    // now + TTL = 1,190 s: the window [900, 1200) rolls 10 s from now.
    expect(signingWindowWaitMs(590_000, 60, signing)).toBe(11_000)
  })
  it('does not wait when the next roll is further away than the span', () => {
    // now + TTL = 1,000 s: the roll is 200 s away.
    expect(signingWindowWaitMs(400_000, 60, signing)).toBe(0)
  })
})
