import type { ApiKeyRecord } from './api-key.ts'

/** Port: where API keys live. Only hashes are stored; the plaintext never reaches it. */
export interface ApiKeyRepository {
  insert(key: { id: string; ownerId: string; name: string; prefix: string; hash: Buffer; expiresAt: Date | null }): Promise<ApiKeyRecord>
  findByHash(hash: Buffer): Promise<ApiKeyRecord | null>
  /** The owner's keys, newest first, revoked ones included. */
  listByOwner(ownerId: string): Promise<ApiKeyRecord[]>
  /** Sets revoked_at once; false when the owner has no such key. Revoking twice is true. */
  revoke(ownerId: string, id: string): Promise<boolean>
  markUsed(id: string, at: Date): Promise<void>
}
