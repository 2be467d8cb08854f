import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadOrCreateDevAccountsSecret } from './accounts-secret.ts'

describe('dev accounts secret', () => {
  const dirs: string[] = []
  const newDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dev-accounts-secret-'))
    dirs.push(dir)
    return dir
  }
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  })

  it('is made once, long enough for the api, readable by its owner only, and the same on every later start', async () => {
    const file = join(await newDir(), 'accounts-secret')
    const first = await loadOrCreateDevAccountsSecret(file)
    expect(first.length).toBeGreaterThanOrEqual(32)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await loadOrCreateDevAccountsSecret(file)).toBe(first)
    expect((await readFile(file, 'utf8')).trim()).toBe(first)
  })

  it('gives two starts racing the one secret', async () => {
    const file = join(await newDir(), 'accounts-secret')
    const [a, b] = await Promise.all([loadOrCreateDevAccountsSecret(file), loadOrCreateDevAccountsSecret(file)])
    expect(a).toBe(b)
  })

  it('refuses a damaged file instead of replacing the secret silently', async () => {
    const file = join(await newDir(), 'accounts-secret')
    await writeFile(file, 'short\n', { mode: 0o600 })
    await expect(loadOrCreateDevAccountsSecret(file)).rejects.toThrow(/holds no usable secret/)
  })
})
