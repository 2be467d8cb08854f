// Rewrites the configuration table in the root README from the config schema.
import { readFileSync, writeFileSync } from 'node:fs'
import { README_PATH, replaceConfigTable } from '../src/common/config-table.ts'

writeFileSync(README_PATH, replaceConfigTable(readFileSync(README_PATH, 'utf8')))
