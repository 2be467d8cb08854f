/**
 * Stops submitting while the provider keeps failing (DESIGN "AI processing"): after
 * `failureThreshold` transient failures in a row it opens for `openSeconds`; then one trial
 * goes through (half-open), whose outcome closes it or opens it again. Per process: each
 * processor replica learns on its own, which costs at most a threshold of failures each.
 */
export type CircuitBreaker = {
  /** 0 when a submission may go now; else the seconds to wait. */
  waitSeconds(): number
  succeeded(): void
  failed(): void
  readonly state: 'closed' | 'open' | 'half_open'
}

export function createCircuitBreaker(options: {
  failureThreshold: number
  openSeconds: number
  now?: () => number
  onChange?: (state: 'closed' | 'open' | 'half_open') => void
}): CircuitBreaker {
  const now = options.now ?? Date.now
  let failures = 0
  let openedAt: number | undefined
  let trialInFlight = false
  let trialStartedAt = 0
  let state: CircuitBreaker['state'] = 'closed'
  const set = (next: CircuitBreaker['state']) => {
    if (next === state) return
    state = next
    options.onChange?.(next)
  }
  return {
    get state() {
      return state
    },
    waitSeconds() {
      if (openedAt === undefined) return 0
      const remaining = openedAt + options.openSeconds * 1000 - now()
      if (remaining > 0) return Math.ceil(remaining / 1000)
      // Half-open: one trial at a time; the others wait a moment for its outcome. A trial that
      // never reported (its look crashed) stops counting after another open period.
      if (trialInFlight && now() - trialStartedAt < options.openSeconds * 1000) return 1
      trialInFlight = true
      trialStartedAt = now()
      set('half_open')
      return 0
    },
    succeeded() {
      failures = 0
      openedAt = undefined
      trialInFlight = false
      set('closed')
    },
    failed() {
      failures += 1
      trialInFlight = false
      if (state === 'half_open' || failures >= options.failureThreshold) {
        openedAt = now()
        set('open')
      }
    },
  }
}

/** Exponential backoff with full jitter in [base·2^(n-1) / 2, base·2^(n-1)], capped, in whole seconds (SQS delays). */
export function backoffSeconds(attempt: number, options: { baseSeconds: number; maxSeconds: number; random?: () => number }): number {
  const random = options.random ?? Math.random
  const ceiling = Math.min(options.maxSeconds, options.baseSeconds * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}
