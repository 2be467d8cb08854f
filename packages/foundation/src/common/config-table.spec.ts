import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ConfigSchemas, variablesOf } from './config-schema.ts'
import { README_PATH, renderConfigTable, replaceConfigTable } from './config-table.ts'

describe('configuration table', () => {
  it('lists every variable of every entry point once, with the entry points that read it', () => {
    const table = renderConfigTable()
    const names = new Set(Object.values(ConfigSchemas).flatMap((schema) => variablesOf(schema).map((v) => v.name)))
    for (const name of names) expect(table.split('\n').filter((line) => line.startsWith(`| \`${name}\` |`))).toHaveLength(1)
    expect(table).toContain('| `DATABASE_URL` | **required** | api, processor, migrate |')
    expect(table).toContain('| `SQS_QUEUE_URL` | (unset) | api, processor |')
    expect(table).toContain('| `CDN_BASE_URL` | (unset) | api |')
    expect(table).toContain('| `CORS_ORIGINS` | (empty) | api |')
  })

  it('is the one in the README (run `pnpm docs:config` after changing the schema)', () => {
    const readme = readFileSync(README_PATH, 'utf8')
    expect(readme).toContain('<!-- config-table:start -->')
    expect(replaceConfigTable(readme)).toBe(readme)
  })
})
