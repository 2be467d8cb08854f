import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startDevStack } from '../dev-stack.ts'
import { repoRoot } from '../repo-root.ts'
import { createTestDatabase, type TestDatabase } from '../testing/test-database.ts'
import type { DevStack } from '../types.ts'
import { devDataDir, devIdentityStateFile } from './paths.ts'

type Run = { code: number; stdout: string; stderr: string }

/** `pnpm token`'s script, as its own process, like the package script runs it. */
function runToken(args: string[], stateFile: string): Promise<Run> {
  // The script needs Node 24 (type stripping); the workspace pins it when vitest runs on another.
  const major = Number(process.versions.node.split('.')[0])
  const node = major >= 24 ? process.execPath : join(repoRoot, 'node_modules', '.bin', 'node')
  return new Promise((resolve) => {
    execFile(
      node,
      [join(import.meta.dirname, 'token.ts'), ...args],
      { cwd: repoRoot, env: { DEV_IDENTITY_STATE_FILE: stateFile } },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
      },
    )
  })
}

// Against a dev stack on its own data dir, as `pnpm dev` runs it: the state file is the one the
// stack writes there, and the tokens must pass the JWKS the api is pointed at.
describe('pnpm token', () => {
  let dir: string
  let database: TestDatabase
  let stack: DevStack
  let stateFile: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dev-token-'))
    database = await createTestDatabase(inject('databaseServerUrl'), { migrate: false })
    stack = await startDevStack({ dataDir: dir, databaseUrl: database.url })
    stateFile = join(dir, 'identity-provider.json')
  })
  afterAll(async () => {
    await stack?.stop()
    await database?.drop()
    await rm(dir, { recursive: true, force: true })
  })

  const verify = async (token: string) => {
    const jwks = createRemoteJWKSet(new URL(stack.env.AUTH_JWKS_URL ?? ''))
    const options = { issuer: stack.env.AUTH_ISSUER ?? '', audience: stack.env.AUTH_AUDIENCE ?? '', algorithms: ['EdDSA'] }
    return (await jwtVerify(token, jwks, options)).payload
  }

  it('prints one token the running provider verifies: subject dev-user, 12 hours, no admin scope', async () => {
    const run = await runToken([], stateFile)
    expect(run).toMatchObject({ code: 0, stderr: '' })
    expect(run.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/)
    const claims = await verify(run.stdout.trim())
    expect(claims.sub).toBe('dev-user')
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(12 * 3600)
    expect(claims.scope).toBeUndefined()
  })

  it('signs for the subject given, with images:admin on --admin and the lifetime of --hours', async () => {
    const run = await runToken(['alice', '--admin', '--hours', '1'], stateFile)
    expect(run.code).toBe(0)
    const claims = await verify(run.stdout.trim())
    expect(claims).toMatchObject({ sub: 'alice', scope: 'images:admin' })
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(3600)
  })

  it('signs with the newest key after a rotation', async () => {
    const kid = await stack.identity.rotateKey()
    const run = await runToken(['bob'], stateFile)
    expect(run.code).toBe(0)
    expect(decodeJwt(run.stdout.trim()).sub).toBe('bob')
    await expect(verify(run.stdout.trim())).resolves.toMatchObject({ sub: 'bob' })
    expect(JSON.parse(Buffer.from(run.stdout.split('.')[0] ?? '', 'base64url').toString())).toMatchObject({ kid })
  })

  it('exits 1 and says to run pnpm dev when there is no provider state yet', async () => {
    const missing = join(dir, 'none', 'identity-provider.json')
    const run = await runToken([], missing)
    expect(run.code).toBe(1)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain(missing)
    expect(run.stderr).toContain('run `pnpm dev` once first')
  })

  it('refuses an --hours that is not a positive number', async () => {
    const run = await runToken(['--hours', '0'], stateFile)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--hours must be a positive number')
  })

  it('reads the file pnpm dev writes (its data dir, identity-provider.json) unless DEV_IDENTITY_STATE_FILE says another', () => {
    expect(devDataDir).toBe(join(repoRoot, '.data', 'dev'))
    expect(devIdentityStateFile({})).toBe(join(devDataDir, 'identity-provider.json'))
    expect(devIdentityStateFile({ DEV_IDENTITY_STATE_FILE: '/elsewhere/state.json' })).toBe('/elsewhere/state.json')
  })
})
