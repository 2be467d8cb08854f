import type { ApiKeyRecord } from '../api-key.ts'
import type { ApiKeyRepository } from '../api-key-repository.ts'

/** Test fake of the ApiKeyRepository port, in memory. */
export class InMemoryApiKeyRepository implements ApiKeyRepository {
  readonly rows = new Map<string, ApiKeyRecord & { hash: string }>()

  async insert(key: Parameters<ApiKeyRepository['insert']>[0]): Promise<ApiKeyRecord> {
    const record = {
      id: key.id,
      ownerId: key.ownerId,
      name: key.name,
      prefix: key.prefix,
      createdAt: new Date(),
      expiresAt: key.expiresAt,
      revokedAt: null,
      lastUsedAt: null,
    }
    this.rows.set(key.id, { ...record, hash: key.hash.toString('hex') })
    return record
  }

  async findByHash(hash: Buffer): Promise<ApiKeyRecord | null> {
    const row = [...this.rows.values()].find((r) => r.hash === hash.toString('hex'))
    return row === undefined ? null : strip(row)
  }

  async listByOwner(ownerId: string): Promise<ApiKeyRecord[]> {
    return [...this.rows.values()]
      .filter((r) => r.ownerId === ownerId)
      .reverse()
      .map(strip)
  }

  async revoke(ownerId: string, id: string): Promise<boolean> {
    const row = this.rows.get(id)
    if (row === undefined || row.ownerId !== ownerId) return false
    row.revokedAt ??= new Date()
    return true
  }

  async markUsed(id: string, at: Date): Promise<void> {
    const row = this.rows.get(id)
    if (row !== undefined) row.lastUsedAt = at
  }
}

function strip({ hash: _hash, ...record }: ApiKeyRecord & { hash: string }): ApiKeyRecord {
  return record
}
