import { createHash, randomBytes } from 'node:crypto'
import { AppError } from '../../../common/errors.ts'

export const API_KEY_PREFIX = 'isk_'
/** `isk_` + 43 base64url characters: 256 random bits. */
const API_KEY_PATTERN = /^isk_[A-Za-z0-9_-]{43}$/
/** What lists show of a key: enough to tell keys apart, far too little to guess the rest. */
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 8

export type ApiKeyRecord = {
  id: string
  ownerId: string
  name: string
  prefix: string
  createdAt: Date
  expiresAt: Date | null
  revokedAt: Date | null
  lastUsedAt: Date | null
}

export type NewApiKey = { plaintext: string; hash: Buffer; prefix: string }

export function generateApiKey(): NewApiKey {
  const plaintext = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`
  return { plaintext, hash: hashApiKey(plaintext), prefix: plaintext.slice(0, DISPLAY_PREFIX_LENGTH) }
}

export function hashApiKey(plaintext: string): Buffer {
  return createHash('sha256').update(plaintext).digest()
}

/** Whether a bearer credential is meant as an API key (then it is never tried as a JWT). */
export function looksLikeApiKey(credential: string): boolean {
  return credential.startsWith(API_KEY_PREFIX)
}

export function isWellFormedApiKey(credential: string): boolean {
  return API_KEY_PATTERN.test(credential)
}

export type ApiKeyErrorCode = 'INVALID_API_KEY_NAME' | 'INVALID_EXPIRY' | 'API_KEY_NOT_FOUND'

export class ApiKeyError extends AppError {
  declare readonly code: ApiKeyErrorCode

  static invalidName(): ApiKeyError {
    return new ApiKeyError('invalid', 'INVALID_API_KEY_NAME', 'name must be 1..100 characters without control characters')
  }

  static invalidExpiry(): ApiKeyError {
    return new ApiKeyError('invalid', 'INVALID_EXPIRY', 'expires_in_days must be a whole number from 1 to 3650')
  }

  static notFound(id: string): ApiKeyError {
    return new ApiKeyError('not_found', 'API_KEY_NOT_FOUND', `API key ${id} does not exist`)
  }

  private constructor(kind: 'invalid' | 'not_found', code: ApiKeyErrorCode, message: string) {
    super(kind, code, message)
  }
}
