import path from 'node:path'

/** The repository's root directory (this file is packages/devstack/src/repo-root.ts). */
export const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..')
