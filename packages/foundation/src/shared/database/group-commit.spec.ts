import { describe, expect, it } from 'vitest'
import { createGroupCommit, type Settled } from './group-commit.ts'

/** A writer whose batches are recorded and finish only when the test says so. */
function heldWriter() {
  const batches: { items: number[]; finish: (outcomes?: Settled<string>[]) => void; fail: (error: unknown) => void }[] = []
  let arrived: (() => void) | undefined
  const write = (items: readonly number[]) =>
    new Promise<readonly Settled<string>[]>((resolve, reject) => {
      batches.push({
        items: [...items],
        finish: (outcomes) => resolve(outcomes ?? items.map((i) => ({ ok: true, value: `done ${i}` }))),
        fail: reject,
      })
      arrived?.()
    })
  /** Resolves once `count` batches have reached the writer. */
  const batchesReached = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (batches.length >= count) resolve()
        else arrived = check
      }
      check()
    })
  return { write, batches, batchesReached }
}

describe('group commit', () => {
  it('writes what arrives in one turn as one batch, and each caller gets its own outcome', async () => {
    const writer = heldWriter()
    const group = createGroupCommit({ write: writer.write, maxInFlight: 2, maxBatch: 100 })
    const calls = [1, 2, 3].map((i) => group.submit(i))
    await writer.batchesReached(1)
    expect(writer.batches.map((b) => b.items)).toEqual([[1, 2, 3]])
    writer.batches[0]!.finish([
      { ok: true, value: 'one' },
      { ok: false, error: new Error('two refused') },
      { ok: true, value: 'three' },
    ])
    const results = await Promise.allSettled(calls)
    expect(results).toEqual([
      { status: 'fulfilled', value: 'one' },
      { status: 'rejected', reason: new Error('two refused') },
      { status: 'fulfilled', value: 'three' },
    ])
  })

  it('queues while every slot is busy, then writes everything that waited as the next batch', async () => {
    const writer = heldWriter()
    const group = createGroupCommit({ write: writer.write, maxInFlight: 2, maxBatch: 100 })
    const first = group.submit(1)
    await writer.batchesReached(1)
    const second = group.submit(2)
    await writer.batchesReached(2)
    // Both slots are busy now: these wait, whatever turn they arrive in.
    const waiting = [3, 4, 5].map((i) => group.submit(i))
    await new Promise((resolve) => setImmediate(resolve))
    expect(writer.batches).toHaveLength(2)
    writer.batches[0]!.finish()
    await writer.batchesReached(3)
    expect(writer.batches.map((b) => b.items)).toEqual([[1], [2], [3, 4, 5]])
    writer.batches[1]!.finish()
    writer.batches[2]!.finish()
    expect(await Promise.all([first, second, ...waiting])).toEqual(['done 1', 'done 2', 'done 3', 'done 4', 'done 5'])
  })

  it('never takes more than maxBatch items into one batch', async () => {
    const writer = heldWriter()
    const group = createGroupCommit({ write: writer.write, maxInFlight: 1, maxBatch: 2 })
    const calls = [1, 2, 3, 4, 5].map((i) => group.submit(i))
    for (let n = 1; n <= 3; n++) {
      await writer.batchesReached(n)
      writer.batches[n - 1]!.finish()
    }
    await Promise.all(calls)
    expect(writer.batches.map((b) => b.items)).toEqual([[1, 2], [3, 4], [5]])
  })

  it('fails every item of a batch whose write throws, and goes on with the next batch', async () => {
    const writer = heldWriter()
    const group = createGroupCommit({ write: writer.write, maxInFlight: 1, maxBatch: 100 })
    const failing = [1, 2].map((i) => group.submit(i))
    await writer.batchesReached(1)
    const later = group.submit(3)
    writer.batches[0]!.fail(new Error('database unavailable'))
    for (const call of failing) await expect(call).rejects.toThrow('database unavailable')
    await writer.batchesReached(2)
    writer.batches[1]!.finish()
    expect(await later).toBe('done 3')
  })

  it('rejects an item the writer gave no outcome for, rather than leaving it hanging', async () => {
    const group = createGroupCommit<number, string>({ write: async () => [], maxInFlight: 1, maxBatch: 10 })
    await expect(group.submit(1)).rejects.toThrow('no outcome')
  })
})
