import { afterAll, beforeAll } from 'vitest'
import { showProcessOutputOnFailure } from './failure-report.ts'
import { type RunningSystem, startSystem } from './system.ts'

/**
 * The system of one spec file: started before its tests, stopped after them, its processes'
 * output shown on the first failure. Returns the running system (throws before it started).
 */
export function useSystem(options?: Parameters<typeof startSystem>[0]): () => RunningSystem {
  let system: RunningSystem | undefined
  beforeAll(async () => {
    system = await startSystem(options)
  })
  afterAll(async () => {
    await system?.stop()
  })
  showProcessOutputOnFailure(() => system)
  return () => {
    if (!system) throw new Error('system not started')
    return system
  }
}
