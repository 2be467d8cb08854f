/** What a batch says about one of its items: its value, or why that item alone failed. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown }

export type GroupCommitOptions<I, O> = {
  /**
   * Writes a batch, in arrival order, and says what became of each item (same order). A throw
   * fails every item of the batch with that error.
   */
  write: (items: readonly I[]) => Promise<readonly Settled<O>[]>
  /** Batches written at the same time; the items that arrive meanwhile wait for the next. */
  maxInFlight: number
  /** The most items one batch takes. */
  maxBatch: number
}

/**
 * Group commit: concurrent callers' writes go to the database together, one statement (or
 * transaction) for all of them, instead of one each. Nothing is delayed to wait for company:
 * while fewer than `maxInFlight` batches are being written, an item is written in the next
 * turn of the event loop, with whatever else arrived in that turn. Only while every slot is
 * busy do items queue up, and then the next batch takes all of them. Under load that is what
 * amortises the per-statement and per-commit cost (parse, plan, WAL flush, round trips);
 * with no load, an item costs what it did alone. Every caller still resolves only after its
 * own batch committed.
 */
export function createGroupCommit<I, O>(options: GroupCommitOptions<I, O>): { submit: (item: I) => Promise<O> } {
  type Waiting = { item: I; resolve: (value: O) => void; reject: (error: unknown) => void }
  const queue: Waiting[] = []
  let inFlight = 0
  let scheduled = false

  const settle = (batch: readonly Waiting[], outcomes: readonly Settled<O>[]) => {
    batch.forEach((waiting, index) => {
      const outcome = outcomes[index]
      if (outcome === undefined) waiting.reject(new Error('the batch writer returned no outcome for this item'))
      else if (outcome.ok) waiting.resolve(outcome.value)
      else waiting.reject(outcome.error)
    })
  }

  const flush = () => {
    scheduled = false
    while (inFlight < options.maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, options.maxBatch)
      inFlight++
      options
        .write(batch.map((waiting) => waiting.item))
        .then(
          (outcomes) => settle(batch, outcomes),
          (error: unknown) => {
            for (const waiting of batch) waiting.reject(error)
          },
        )
        .finally(() => {
          inFlight--
          flush()
        })
    }
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject })
        if (!scheduled && inFlight < options.maxInFlight) {
          scheduled = true
          setImmediate(flush)
        }
      })
    },
  }
}
