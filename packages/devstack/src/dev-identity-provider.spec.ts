import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { readDevIdentityState, signTokenFromState, startDevIdentityProvider } from './dev-identity-provider.ts'

describe('dev identity provider', () => {
  const dirs: string[] = []
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  })

  it('serves a JWKS that verifies its tokens, with iss, aud, sub and exp', async () => {
    const idp = await startDevIdentityProvider({ audience: 'https://api.test' })
    try {
      const token = await idp.token({ subject: 'u1', admin: true, expiresInSeconds: 60 })
      const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(idp.jwksUrl)), {
        issuer: idp.issuer,
        audience: 'https://api.test',
      })
      expect(protectedHeader).toMatchObject({ alg: 'EdDSA', kid: idp.currentKid() })
      expect(payload).toMatchObject({ sub: 'u1', scope: 'images:admin' })
      expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(60)
    } finally {
      await idp.stop()
    }
  })

  it('keeps its keys in the state file, so another process can sign tokens it accepts, across restarts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dev-idp-'))
    dirs.push(dir)
    const stateFile = join(dir, 'identity-provider.json')
    const first = await startDevIdentityProvider({ audience: 'https://api.test', stateFile })
    const kid = first.currentKid()
    await first.stop()
    expect((await stat(stateFile)).mode & 0o777).toBe(0o600)

    const again = await startDevIdentityProvider({ audience: 'https://api.test', stateFile })
    try {
      expect(again.currentKid()).toBe(kid)
      const state = await readDevIdentityState(stateFile)
      if (state === undefined) throw new Error('no state written')
      const token = await signTokenFromState(state, { subject: 'from-cli' })
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(again.jwksUrl)), { audience: 'https://api.test' })
      expect(payload.sub).toBe('from-cli')
    } finally {
      await again.stop()
    }
  })
})
