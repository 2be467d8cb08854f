import { createPublicKey } from 'node:crypto'
import { type DevIdentityProvider, startDevIdentityProvider } from '@image-service/devstack'
import { base64url, exportSPKI, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuthenticationError } from './authentication-error.ts'
import { createTokenVerifier, MAX_TOKEN_BYTES, type TokenVerifier } from './token-verifier.ts'

const AUDIENCE = 'https://images.test'
const SECRET = 'a-shared-secret-of-at-least-32-bytes!!'
const SECRET_ISSUER = 'https://secret-issuer.test'

describe('createTokenVerifier against the dev identity provider over HTTP', () => {
  let idp: DevIdentityProvider
  let stranger: DevIdentityProvider
  let verify: TokenVerifier

  beforeAll(async () => {
    idp = await startDevIdentityProvider({ audience: AUDIENCE })
    stranger = await startDevIdentityProvider({ audience: AUDIENCE })
    verify = createTokenVerifier({
      issuers: [
        { issuer: idp.issuer, audience: AUDIENCE, jwksUrl: idp.jwksUrl },
        { issuer: SECRET_ISSUER, audience: AUDIENCE, secret: SECRET },
      ],
      jwksCooldownMs: 0,
    })
  })
  afterAll(async () => {
    await idp?.stop()
    await stranger?.stop()
  })

  const refused = async (token: string) => {
    const error = await verify(token).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(AuthenticationError)
    expect(error).toMatchObject({ kind: 'unauthenticated', code: 'UNAUTHENTICATED' })
    return (error as Error).message
  }
  const unsigned = (header: object, payload: object) =>
    `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`
  const now = () => Math.floor(Date.now() / 1000)

  it('accepts a token of a trusted issuer and reads subject, scopes and email', async () => {
    const verified = await verify(await idp.token({ subject: 'user-a', email: 'a@example.test' }))
    expect(verified).toMatchObject({ issuer: idp.issuer, subject: 'user-a', scopes: [], admin: false, email: 'a@example.test' })
    expect(verified.expiresAt).toBeGreaterThan(now())
  })

  it('reads admin from the images:admin scope or a roles array', async () => {
    expect(await verify(await idp.token({ subject: 's', admin: true }))).toMatchObject({ admin: true, scopes: ['images:admin'] })
    expect(await verify(await idp.token({ subject: 's', claims: { roles: ['admin'] } }))).toMatchObject({ admin: true })
    expect(await verify(await idp.token({ subject: 's', claims: { scope: 'images:read other' } }))).toMatchObject({ admin: false })
  })

  it('refuses garbage, and a token signed by another key', async () => {
    await refused('not-a-token')
    await refused('a.b.c')
    const forged = await stranger.token({ subject: 'user-a' })
    // The stranger's own issuer is not trusted ...
    expect(await refused(forged)).toContain('not from a trusted issuer')
    // ... and claiming our issuer does not help: the signature does not verify with our keys.
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' })
    const claimingOurs = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: idp.currentKid() })
      .setIssuer(idp.issuer)
      .setAudience(AUDIENCE)
      .setSubject('user-a')
      .setExpirationTime('1h')
      .sign(privateKey)
    await refused(claimingOurs)
  })

  it('refuses alg none, and HS256 signed with the public key (algorithm confusion)', async () => {
    const claims = { iss: idp.issuer, aud: AUDIENCE, sub: 'user-a', exp: now() + 600 }
    await refused(unsigned({ alg: 'none', typ: 'JWT' }, claims))
    const jwks = (await (await fetch(idp.jwksUrl)).json()) as { keys: Record<string, string>[] }
    const publicPem = await exportSPKI(createPublicKey({ key: jwks.keys[0] as Record<string, string>, format: 'jwk' }))
    for (const secret of [publicPem, String(jwks.keys[0]?.x)]) {
      const confused = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', kid: idp.currentKid() })
        .setIssuer(idp.issuer)
        .setAudience(AUDIENCE)
        .setSubject('user-a')
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(secret))
      await refused(confused)
    }
  })

  it('refuses expired tokens, tokens not valid yet, and tokens without exp or sub', async () => {
    await refused(await idp.token({ subject: 'user-a', claims: { exp: now() - 120 } }))
    await refused(await idp.token({ subject: 'user-a', claims: { nbf: now() + 600 } }))
    const registered = { iss: idp.issuer, aud: AUDIENCE, sub: 'user-a', exp: now() + 600 }
    const { exp: _exp, ...withoutExp } = registered
    const { sub: _sub, ...withoutSub } = registered
    expect(await refused(await idp.signClaims(withoutExp))).toContain('exp')
    expect(await refused(await idp.signClaims(withoutSub))).toContain('sub')
    await expect(verify(await idp.signClaims(registered))).resolves.toMatchObject({ subject: 'user-a' })
  })

  it('allows 30 seconds of clock skew, and no more', async () => {
    await expect(verify(await idp.token({ subject: 'user-a', claims: { exp: now() - 10 } }))).resolves.toBeDefined()
    await expect(verify(await idp.token({ subject: 'user-a', claims: { nbf: now() + 10 } }))).resolves.toBeDefined()
    await refused(await idp.token({ subject: 'user-a', claims: { exp: now() - 60 } }))
  })

  it('refuses the wrong issuer or audience', async () => {
    await refused(await idp.token({ subject: 'user-a', claims: { aud: 'https://someone-else.test' } }))
    const wrongIss = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://untrusted.test')
      .setAudience(AUDIENCE)
      .setSubject('user-a')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET))
    expect(await refused(wrongIss)).toContain('not from a trusted issuer')
  })

  it('refuses a token over 15 KB before parsing it', async () => {
    const big = await idp.token({ subject: 'user-a', claims: { padding: 'x'.repeat(MAX_TOKEN_BYTES) } })
    expect(await refused(big)).toContain('bytes')
  })

  it('picks up a rotated key (new kid) without a restart', async () => {
    await verify(await idp.token({ subject: 'before-rotation' }))
    const fetchesBefore = idp.jwksFetches()
    const newKid = await idp.rotateKey()
    const token = await idp.token({ subject: 'after-rotation' })
    expect(JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString())).toMatchObject({ kid: newKid })
    await expect(verify(token)).resolves.toMatchObject({ subject: 'after-rotation' })
    expect(idp.jwksFetches()).toBeGreaterThan(fetchesBefore)
  })

  it('accepts HS256 only for the shared-secret issuer', async () => {
    const hs = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(SECRET_ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('machine-1')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET))
    await expect(verify(hs)).resolves.toMatchObject({ subject: 'machine-1', issuer: SECRET_ISSUER })
    // An asymmetric token claiming the secret issuer is refused by the algorithm pin.
    await refused(await idp.token({ subject: 'user-a', claims: { iss: SECRET_ISSUER } }))
  })

  it('serves a repeated token from the cache until its exp, then refuses it', async () => {
    let clock = Date.now()
    const cached = createTokenVerifier({
      issuers: [{ issuer: idp.issuer, audience: AUDIENCE, jwksUrl: idp.jwksUrl }],
      now: () => clock,
    })
    const token = await idp.token({ subject: 'user-a', expiresInSeconds: 60 })
    await expect(cached(token)).resolves.toMatchObject({ subject: 'user-a' })
    await idp.stop().catch(() => {})
    // The issuer is gone: only the cache can answer now.
    await expect(cached(token)).resolves.toMatchObject({ subject: 'user-a' })
    clock += 120_000
    await expect(cached(token)).rejects.toBeInstanceOf(AuthenticationError)
    idp = await startDevIdentityProvider({ audience: AUDIENCE })
  })
})
