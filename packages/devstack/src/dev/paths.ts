import { join } from 'node:path'
import { repoRoot } from '../repo-root.ts'

/** Where `pnpm dev` keeps its data between runs (git-ignored). */
export const devDataDir = join(repoRoot, '.data', 'dev')

/**
 * The dev identity provider's keys and issuer: `startDevStack` writes
 * `<dataDir>/identity-provider.json`, and `pnpm token` signs from it.
 * DEV_IDENTITY_STATE_FILE points `pnpm token` at another one.
 */
export function devIdentityStateFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.DEV_IDENTITY_STATE_FILE ?? join(devDataDir, 'identity-provider.json')
}
