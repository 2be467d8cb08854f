import { describe, expect, it } from 'vitest'
import { newImageId, type ImageId, type ImageRecord } from './image.ts'
import { withReadyRecordCache } from './ready-record-cache.ts'
import { InMemoryImageRepository } from './testing/in-memory-image-repository.ts'

/** The fake repository, counting the reads that reach it; `hold` keeps the next read open. */
function setUp(options: { maxAgeMs?: number } = {}) {
  const inner = new InMemoryImageRepository()
  const reads: string[] = []
  let held: Promise<void> | undefined
  const findById = inner.findById.bind(inner)
  const findOwnedByIds = inner.findOwnedByIds.bind(inner)
  const gate = async () => {
    const current = held
    held = undefined
    await current
  }
  inner.findById = async (id: ImageId) => {
    reads.push(`byId ${id}`)
    const answer = await findById(id)
    await gate()
    return answer
  }
  inner.findOwnedByIds = async (ownerId: string, ids: readonly ImageId[]) => {
    reads.push(`owned ${ids.join(',')}`)
    const answer = await findOwnedByIds(ownerId, ids)
    await gate()
    return answer
  }
  let clock = 1_000_000
  const cache = withReadyRecordCache(inner, { maxEntries: 100, maxAgeMs: options.maxAgeMs ?? 60_000, now: () => clock })
  return {
    inner,
    cache,
    images: cache.repository,
    reads,
    advance: (ms: number) => {
      clock += ms
    },
    /** The next read answers only when release() is called. */
    hold() {
      let release = () => {}
      held = new Promise<void>((resolve) => {
        release = resolve
      })
      return { release: () => release() }
    },
  }
}

describe('withReadyRecordCache', () => {
  it('reads a ready record from the database once, then from memory', async () => {
    const { inner, cache, images, reads } = setUp()
    const id = newImageId()
    inner.add(id, 'ready')
    cache.resume()

    const first = await images.findById(id)
    const second = await images.findById(id)
    expect(second).toEqual(first)
    expect(second?.status).toBe('ready')
    expect(reads).toEqual([`byId ${id}`])
    expect(cache.stats().records).toBe(1)
    expect(cache.stats()).toEqual({ records: 1, live: true, hits: 1, misses: 1 })
  })

  it('keeps nothing while suspended, which is how it starts', async () => {
    const { inner, cache, images, reads } = setUp()
    const id = newImageId()
    inner.add(id, 'ready')

    await images.findById(id)
    await images.findById(id)
    expect(reads).toHaveLength(2)
    expect(cache.stats().records).toBe(0)

    cache.resume()
    await images.findById(id)
    await images.findById(id)
    expect(reads).toHaveLength(3)
    cache.suspend()
    expect(cache.stats().records).toBe(0)
    await images.findById(id)
    expect(reads).toHaveLength(4)
  })

  it('never keeps a record that is not ready', async () => {
    const { inner, cache, images, reads } = setUp()
    const [pending, failed, deleted] = [newImageId(), newImageId(), newImageId()]
    inner.add(pending, 'pending').add(failed, 'failed').add(deleted, 'deleted')
    cache.resume()

    for (const id of [pending, failed, deleted, pending, failed, deleted]) await images.findById(id)
    expect(reads).toHaveLength(6)
    expect(cache.stats().records).toBe(0)
  })

  it('answers what changed once the change is announced (forget)', async () => {
    const { inner, cache, images } = setUp()
    const id = newImageId()
    inner.add(id, 'ready')
    cache.resume()
    await images.findById(id)

    // Another replica deletes it: this one still answers from memory until it hears of it.
    await inner.markDeleted(id)
    expect((await images.findById(id))?.status).toBe('ready')
    cache.forget(id)
    expect((await images.findById(id))?.status).toBe('deleted')
  })

  it('forgets a record written through it at once, without waiting for the announcement', async () => {
    const { inner, cache, images } = setUp()
    const [deleted, replaced] = [newImageId(), newImageId()]
    inner.add(deleted, 'ready').add(replaced, 'ready')
    cache.resume()
    await images.findOwnedByIds('owner-a', [deleted, replaced])
    expect(cache.stats().records).toBe(2)

    await images.markDeleted(deleted)
    await images.failReplaced(replaced, '"approved"')
    expect((await images.findById(deleted))?.status).toBe('deleted')
    expect((await images.findById(replaced))?.status).toBe('failed')
  })

  it('does not keep a record whose read started before a change was announced', async () => {
    const { inner, cache, images, reads, hold } = setUp()
    const id = newImageId()
    inner.add(id, 'ready')
    cache.resume()

    const gate = hold()
    const reading = images.findById(id)
    // The read has the ready row; the delete commits and is announced before it returns.
    await inner.markDeleted(id)
    cache.forget(id)
    gate.release()
    expect((await reading)?.status).toBe('ready')

    expect((await images.findById(id))?.status).toBe('deleted')
    expect(reads).toEqual([`byId ${id}`, `byId ${id}`])
  })

  it('reads a record again once it is older than maxAgeMs', async () => {
    const { inner, cache, images, reads, advance } = setUp({ maxAgeMs: 5_000 })
    const id = newImageId()
    inner.add(id, 'ready')
    cache.resume()
    await images.findById(id)
    advance(4_999)
    await images.findById(id)
    expect(reads).toHaveLength(1)
    advance(1)
    await images.findById(id)
    expect(reads).toHaveLength(2)
  })

  it('asks the database only for the ids it does not hold, and never serves another owner', async () => {
    const { inner, cache, images, reads } = setUp()
    const [a, b, theirs, missing] = [newImageId(), newImageId(), newImageId(), newImageId()]
    inner.add(a, 'ready').add(b, 'ready').add(theirs, 'ready', 'owner-b')
    cache.resume()
    await images.findById(a)
    await images.findById(theirs)

    const found = await images.findOwnedByIds('owner-a', [a, b, theirs, missing, a])
    expect(found.map((r) => r.id).sort()).toEqual([a, b].sort())
    expect(reads.at(-1)).toBe(`owned ${b},${theirs},${missing}`)

    const again = await images.findOwnedByIds('owner-a', [b, a])
    expect(again.map((r) => r.id).sort()).toEqual([a, b].sort())
    expect(reads).toHaveLength(3)
    // The cached record of owner-b stays owner-b's.
    expect(await images.findOwnedByIds('owner-a', [theirs])).toEqual([])
  })

  it('hands out records that cannot be changed in place', async () => {
    const { inner, cache, images } = setUp()
    const id = newImageId()
    inner.add(id, 'ready')
    cache.resume()
    await images.findById(id)
    const record = (await images.findById(id)) as ImageRecord
    expect(() => {
      ;(record as { status: string }).status = 'deleted'
    }).toThrow(TypeError)
    expect(() => record.variants.push(record.variants[0] as never)).toThrow(TypeError)
  })
})
