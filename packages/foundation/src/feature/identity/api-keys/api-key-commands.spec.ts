import { createTestDatabase, type TestDatabase } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDatabase, type Database } from '../../../shared/database/database.ts'
import { AuthenticationError, ForbiddenError } from '../../../shared/identity/authentication-error.ts'
import type { RequestContext } from '../../../shared/identity/request-context.ts'
import { createApiKeyCommands } from './api-key-commands.ts'
import { createPostgresApiKeyRepository } from './postgres-api-key-repository.ts'

const user = (ownerId: string): RequestContext => ({ actor: { type: 'user', ownerId, admin: false, via: 'jwt' }, requestId: 'spec' })

describe('API keys on PostgreSQL', () => {
  let testDatabase: TestDatabase
  let database: Database
  let clock = new Date('2030-01-01T00:00:00Z').getTime()
  const commands = () => createApiKeyCommands({ keys: createPostgresApiKeyRepository(database.db), now: () => new Date(clock) })

  beforeAll(async () => {
    testDatabase = await createTestDatabase(inject('databaseServerUrl'))
    database = createDatabase({ url: testDatabase.url, poolMax: 2 })
  })
  afterAll(async () => {
    await database.close()
    await testDatabase.drop()
  })

  it('shows the key once, stores only its hash, and authenticates it as its owner', async () => {
    const keys = commands()
    const { record, plaintext } = await keys.createApiKey(user('owner-a'), { name: 'batch renderer' })
    expect(plaintext).toMatch(/^isk_[A-Za-z0-9_-]{43}$/)
    expect(record).toMatchObject({ ownerId: 'owner-a', name: 'batch renderer', prefix: plaintext.slice(0, 12), expiresAt: null })
    const stored = await database.sql`SELECT * FROM api_keys WHERE id = ${record.id}`
    expect(JSON.stringify(stored)).not.toContain(plaintext.slice(4))
    await expect(keys.authenticateApiKey(plaintext)).resolves.toEqual({
      type: 'user',
      ownerId: 'owner-a',
      admin: false,
      via: 'api_key',
      apiKeyId: record.id,
    })
    const [listed] = await keys.listApiKeys(user('owner-a'))
    expect(listed?.lastUsedAt).not.toBeNull()
  })

  it('refuses unknown, malformed, revoked and expired keys', async () => {
    const keys = commands()
    const refused = (key: string) => expect(keys.authenticateApiKey(key)).rejects.toBeInstanceOf(AuthenticationError)
    await refused('isk_not-a-key')
    await refused(`isk_${'A'.repeat(43)}`)

    const revoked = await keys.createApiKey(user('owner-a'), { name: 'to revoke' })
    await keys.authenticateApiKey(revoked.plaintext)
    await keys.revokeApiKey(user('owner-a'), revoked.record.id)
    // Revoked at once on the replica that revoked it, cache or not.
    await refused(revoked.plaintext)
    // And on another replica (a fresh cache) too.
    await expect(commands().authenticateApiKey(revoked.plaintext)).rejects.toBeInstanceOf(AuthenticationError)

    const expiring = await keys.createApiKey(user('owner-a'), { name: 'short lived', expiresInDays: 1 })
    await keys.authenticateApiKey(expiring.plaintext)
    clock += 2 * 86_400_000
    await refused(expiring.plaintext)
  })

  it('scopes keys to their owner: another owner cannot list or revoke them', async () => {
    const keys = commands()
    const mine = await keys.createApiKey(user('owner-b'), { name: 'mine' })
    expect((await keys.listApiKeys(user('owner-c'))).map((k) => k.id)).not.toContain(mine.record.id)
    await expect(keys.revokeApiKey(user('owner-c'), mine.record.id)).rejects.toMatchObject({ code: 'API_KEY_NOT_FOUND', kind: 'not_found' })
    await expect(keys.authenticateApiKey(mine.plaintext)).resolves.toMatchObject({ ownerId: 'owner-b' })
  })

  it('lets no API key manage API keys, and no anonymous caller either', async () => {
    const keys = commands()
    const viaKey: RequestContext = { actor: { type: 'user', ownerId: 'owner-a', admin: false, via: 'api_key' }, requestId: 'spec' }
    await expect(keys.createApiKey(viaKey, { name: 'x' })).rejects.toBeInstanceOf(ForbiddenError)
    await expect(keys.listApiKeys(viaKey)).rejects.toMatchObject({ code: 'FORBIDDEN' })
    await expect(keys.createApiKey({ actor: { type: 'anonymous' }, requestId: 'spec' }, { name: 'x' })).rejects.toBeInstanceOf(
      AuthenticationError,
    )
  })

  it.each([
    [{ name: '' }, 'INVALID_API_KEY_NAME'],
    [{ name: 'a'.repeat(101) }, 'INVALID_API_KEY_NAME'],
    [{ name: 'a\nb' }, 'INVALID_API_KEY_NAME'],
    [{ name: 'ok', expiresInDays: 0 }, 'INVALID_EXPIRY'],
    [{ name: 'ok', expiresInDays: 1.5 }, 'INVALID_EXPIRY'],
  ])('refuses %j with %s', async (input, code) => {
    await expect(commands().createApiKey(user('owner-a'), input)).rejects.toMatchObject({ code, kind: 'invalid' })
  })
})
