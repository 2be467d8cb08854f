import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { README_PATH, renderConfigTable, replaceConfigTable } from './config-table.ts'
import { EnvSchema } from './config.ts'

describe('configuration table', () => {
  it('lists every variable of the schema', () => {
    const table = renderConfigTable()
    for (const name of Object.keys(EnvSchema.properties)) expect(table).toContain(`| \`${name}\` |`)
  })

  it('is the one in the README (run `pnpm docs:config` after changing the schema)', () => {
    const readme = readFileSync(README_PATH, 'utf8')
    expect(readme).toContain('<!-- config-table:start -->')
    expect(replaceConfigTable(readme)).toBe(readme)
  })
})
