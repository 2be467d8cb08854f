export * from './api-key.ts'
export type { ApiKeyRepository } from './api-key-repository.ts'
export { API_KEY_CACHE_SECONDS, type ApiKeyCommands, createApiKeyCommands } from './api-key-commands.ts'
export { createPostgresApiKeyRepository } from './postgres-api-key-repository.ts'
