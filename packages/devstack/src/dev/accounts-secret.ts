import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'

/**
 * The built-in accounts' AUTH_ACCOUNTS_SECRET for `pnpm dev`: made once and kept in `file`
 * (0600), because a new one would sign everyone out and orphan the stored signing keys.
 */
export async function loadOrCreateDevAccountsSecret(file: string): Promise<string> {
  const saved = await readSecret(file)
  if (saved !== undefined) return saved
  const secret = randomBytes(48).toString('base64url')
  try {
    // `wx`: of two starts racing, the first write wins and the other reads it.
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' })
    return secret
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const winner = await readSecret(file)
    if (winner === undefined) throw error
    return winner
  }
}

async function readSecret(file: string): Promise<string | undefined> {
  try {
    const text = (await readFile(file, 'utf8')).trim()
    // The api asks for at least 32 characters; a damaged file is said, not silently replaced.
    if (text.length < 32) throw new Error(`${file} holds no usable secret: delete it and a new one is made`)
    return text
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}
