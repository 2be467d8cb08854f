import { afterEach } from 'vitest'
import type { RunningSystem } from './system.ts'

/**
 * On the first failing test of a file, print what the api and processors wrote: an e2e
 * failure is rarely understandable from the assertion alone. Once per file, since the
 * corpus tests run concurrently and would repeat the same transcript.
 */
export function showProcessOutputOnFailure(system: () => RunningSystem | undefined): void {
  let shown = false
  afterEach((context) => {
    const running = system()
    if (shown || !running || context.task.result?.state !== 'fail') return
    shown = true
    console.error(`process output after failure of "${context.task.name}":\n${running.transcript()}`)
  })
}
