import { and, desc, eq, isNull, sql } from 'drizzle-orm'
import type { DrizzleDatabase } from '../../../shared/database/database.ts'
import { withDatabaseErrors } from '../../../shared/database/database-errors.ts'
import type { ApiKeyRecord } from './api-key.ts'
import type { ApiKeyRepository } from './api-key-repository.ts'
import { apiKeys } from './api-key-table.ts'

export function createPostgresApiKeyRepository(db: DrizzleDatabase): ApiKeyRepository {
  const columns = {
    id: apiKeys.id,
    ownerId: apiKeys.ownerId,
    name: apiKeys.name,
    prefix: apiKeys.prefix,
    createdAt: apiKeys.createdAt,
    expiresAt: apiKeys.expiresAt,
    revokedAt: apiKeys.revokedAt,
    lastUsedAt: apiKeys.lastUsedAt,
  }
  // Authentication runs on every API-key request that misses the cache: one prepared statement.
  const byHash = db
    .select(columns)
    .from(apiKeys)
    .where(eq(apiKeys.keyHash, sql.placeholder('hash')))
    .prepare('api_keys_by_hash')

  return {
    async insert(key) {
      const rows = await withDatabaseErrors(() =>
        db
          .insert(apiKeys)
          .values({ id: key.id, ownerId: key.ownerId, name: key.name, prefix: key.prefix, keyHash: key.hash, expiresAt: key.expiresAt })
          .returning(columns),
      )
      return rows[0] as ApiKeyRecord
    },
    async findByHash(hash) {
      const rows = await withDatabaseErrors(() => byHash.execute({ hash }))
      return rows[0] ?? null
    },
    listByOwner: (ownerId) =>
      withDatabaseErrors(() =>
        db.select(columns).from(apiKeys).where(eq(apiKeys.ownerId, ownerId)).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id)),
      ),
    async revoke(ownerId, id) {
      const rows = await withDatabaseErrors(() =>
        db
          .update(apiKeys)
          .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
          .where(and(eq(apiKeys.id, id), eq(apiKeys.ownerId, ownerId)))
          .returning({ id: apiKeys.id }),
      )
      return rows.length === 1
    },
    async markUsed(id, at) {
      await withDatabaseErrors(() =>
        db
          .update(apiKeys)
          .set({ lastUsedAt: at })
          .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))),
      )
    },
  }
}
