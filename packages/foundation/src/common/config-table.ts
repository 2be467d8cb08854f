import type { TSchema } from '@sinclair/typebox'
import { EnvSchema } from './config.ts'

function defaultOf(schema: TSchema, required: boolean): string {
  if (schema.default !== undefined) return schema.default === '' ? '(empty)' : `\`${String(schema.default)}\``
  return required ? '**required**' : '(unset)'
}

/** The README's configuration table, generated from the one schema so the two cannot drift. */
export function renderConfigTable(): string {
  const required = new Set<string>(EnvSchema.required ?? [])
  const rows = Object.entries(EnvSchema.properties).map(([name, schema]: [string, TSchema]) => {
    const description = schema.description ?? ''
    return `| \`${name}\` | ${defaultOf(schema, required.has(name))} | ${description.replaceAll('|', '\\|')} |`
  })
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n')
}

export const README_PATH = new URL('../../../../README.md', import.meta.url).pathname
const TABLE_BLOCK = /<!-- config-table:start -->[\s\S]*<!-- config-table:end -->/

export function replaceConfigTable(readme: string): string {
  return readme.replace(TABLE_BLOCK, `<!-- config-table:start -->\n${renderConfigTable()}\n<!-- config-table:end -->`)
}
