import { LRUCache } from 'lru-cache'
import type { AuditLog } from '../../../shared/audit/audit.ts'
import { ulid } from 'ulid'
import { AuthenticationError, ForbiddenError } from '../../../shared/identity/authentication-error.ts'
import { type RequestContext, requireUser, type UserActor } from '../../../shared/identity/request-context.ts'
import { ApiKeyError, type ApiKeyRecord, generateApiKey, hashApiKey, isWellFormedApiKey } from './api-key.ts'
import type { ApiKeyRepository } from './api-key-repository.ts'

const MAX_EXPIRY_DAYS = 3650
/** DESIGN: a revocation holds on every replica within 60 s, so a verified key is trusted that long. */
export const API_KEY_CACHE_SECONDS = 60

/** An API key can act for its owner, but never manage API keys itself. */
function keyManager(ctx: RequestContext): UserActor {
  const actor = requireUser(ctx)
  if (actor.via === 'api_key') throw new ForbiddenError('API keys cannot manage API keys; use a user token')
  return actor
}

export function createApiKeyCommands(deps: { keys: ApiKeyRepository; audit?: AuditLog; now?: () => Date; newId?: () => string }) {
  const now = deps.now ?? (() => new Date())
  const newId = deps.newId ?? (() => ulid())
  const verified = new LRUCache<string, ApiKeyRecord>({ max: 10_000, ttl: API_KEY_CACHE_SECONDS * 1000 })

  return {
    /** The plaintext key is returned here once and never stored. */
    async createApiKey(ctx: RequestContext, input: { name: string; expiresInDays?: number | undefined }) {
      const owner = keyManager(ctx)
      const name = input.name.trim()
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
      if (name.length === 0 || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name)) throw ApiKeyError.invalidName()
      const days = input.expiresInDays
      if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > MAX_EXPIRY_DAYS)) throw ApiKeyError.invalidExpiry()
      const key = generateApiKey()
      const expiresAt = days === undefined ? null : new Date(now().getTime() + days * 86_400_000)
      const record = await deps.keys.insert({ id: newId(), ownerId: owner.ownerId, name, prefix: key.prefix, hash: key.hash, expiresAt })
      await deps.audit?.write(ctx, {
        action: 'api_key.created',
        ownerId: owner.ownerId,
        detail: { api_key_id: record.id, name, prefix: key.prefix },
      })
      return { record, plaintext: key.plaintext }
    },

    listApiKeys: async (ctx: RequestContext) => deps.keys.listByOwner(keyManager(ctx).ownerId),

    async revokeApiKey(ctx: RequestContext, id: string) {
      const { ownerId } = keyManager(ctx)
      if (!(await deps.keys.revoke(ownerId, id))) throw ApiKeyError.notFound(id)
      await deps.audit?.write(ctx, { action: 'api_key.revoked', ownerId, detail: { api_key_id: id } })
      // At once on this replica; the others' caches let it go within API_KEY_CACHE_SECONDS.
      for (const [hash, record] of verified.entries()) if (record.id === id) verified.delete(hash)
    },

    /** The owner an API key acts for, or AuthenticationError (unknown, expired or revoked). */
    async authenticateApiKey(plaintext: string): Promise<UserActor> {
      if (!isWellFormedApiKey(plaintext)) throw new AuthenticationError('malformed API key')
      const hash = hashApiKey(plaintext).toString('base64url')
      let record = verified.get(hash)
      if (record === undefined) {
        record = (await deps.keys.findByHash(hashApiKey(plaintext))) ?? undefined
        if (record === undefined) throw new AuthenticationError('unknown API key')
        if (record.revokedAt === null) {
          verified.set(hash, record)
          // At most once per cache lifetime per replica: last_used_at is a hint, not a log.
          await deps.keys.markUsed(record.id, now())
        }
      }
      if (record.revokedAt !== null) throw new AuthenticationError('revoked API key')
      if (record.expiresAt !== null && record.expiresAt.getTime() <= now().getTime()) throw new AuthenticationError('expired API key')
      return { type: 'user', ownerId: record.ownerId, admin: false, via: 'api_key', apiKeyId: record.id }
    },
  }
}

export type ApiKeyCommands = ReturnType<typeof createApiKeyCommands>
