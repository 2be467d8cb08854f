import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The folder holding the numbered *.sql files: the package root, one level above src/. */
export const MIGRATIONS_DIRECTORY = fileURLToPath(new URL('..', import.meta.url))

export type MigrationFile = {
  name: string
  sql: string
  /** sha256 of the file's bytes: an applied migration must never change afterwards. */
  checksum: string
}

/** Every *.sql file of the folder, in name order (0001_, 0002_, ...). */
export async function readMigrationFiles(directory: string): Promise<MigrationFile[]> {
  const names = (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort()
  return Promise.all(
    names.map(async (name) => {
      const bytes = await readFile(join(directory, name))
      return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') }
    }),
  )
}
