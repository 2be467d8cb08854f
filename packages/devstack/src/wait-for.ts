import { setTimeout as delay } from 'node:timers/promises'

/**
 * Polls `probe` until it returns something other than undefined, or fails after the deadline.
 * Tests wait for a state this way instead of sleeping for a fixed time.
 */
export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; description?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000)
  let lastError: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const what = options.description ?? 'condition'
      throw new Error(`timed out waiting for ${what}`, { cause: lastError })
    }
    await delay(options.intervalMs ?? 20)
  }
}
