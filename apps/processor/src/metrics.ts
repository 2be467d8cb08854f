/**
 * Outcome counters held in-process, for a later exporter (Prometheus, CloudWatch EMF) to
 * read through `snapshot()`. Keys are `outcome` and `outcome:reason`, e.g. `failed:too_large`.
 */
export type HandledOutcome = 'ready' | 'failed' | 'skipped' | 'ignored' | 'retry'

export type OutcomeMetrics = {
  record(outcome: HandledOutcome, reason?: string): void
  snapshot(): { byOutcome: Record<string, number>; byReason: Record<string, number> }
}

export function createOutcomeMetrics(): OutcomeMetrics {
  const byOutcome = new Map<string, number>()
  const byReason = new Map<string, number>()
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)
  return {
    record(outcome, reason) {
      bump(byOutcome, outcome)
      if (reason !== undefined) bump(byReason, `${outcome}:${reason}`)
    },
    snapshot() {
      return { byOutcome: Object.fromEntries(byOutcome), byReason: Object.fromEntries(byReason) }
    },
  }
}
