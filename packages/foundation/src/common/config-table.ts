import { type ConfigSection, ConfigSchemas, type ConfigVariable, variablesOf } from './config-schema.ts'

export type ConfigTableRow = ConfigVariable & { readBy: ConfigSection[] }

/** Every variable once, in declaration order, with the entry points that read it. */
export function configTableRows(): ConfigTableRow[] {
  const rows = new Map<string, ConfigTableRow>()
  for (const section of Object.keys(ConfigSchemas) as ConfigSection[]) {
    for (const variable of variablesOf(ConfigSchemas[section])) {
      const row = rows.get(variable.name) ?? { ...variable, readBy: [] }
      row.readBy.push(section)
      rows.set(variable.name, row)
    }
  }
  return [...rows.values()]
}

function defaultOf(row: ConfigTableRow): string {
  const value: unknown = row.schema.default
  if (value !== undefined) return value === '' ? '(empty)' : `\`${String(value)}\``
  return row.optional ? '(unset)' : '**required**'
}

/** The README's configuration table, generated from the one schema so the two cannot drift. */
export function renderConfigTable(): string {
  const rows = configTableRows().map((row) => {
    const description = (row.schema.description ?? '').replaceAll('|', '\\|')
    return `| \`${row.name}\` | ${defaultOf(row)} | ${row.readBy.join(', ')} | ${description} |`
  })
  return ['| variable | default | read by | meaning |', '|---|---|---|---|', ...rows].join('\n')
}

export const README_PATH = new URL('../../../../README.md', import.meta.url).pathname
const TABLE_BLOCK = /<!-- config-table:start -->[\s\S]*<!-- config-table:end -->/

export function replaceConfigTable(readme: string): string {
  return readme.replace(TABLE_BLOCK, `<!-- config-table:start -->\n${renderConfigTable()}\n<!-- config-table:end -->`)
}
