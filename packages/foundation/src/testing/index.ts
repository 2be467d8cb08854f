// Hand-written fakes of foundation's ports, for the apps' unit tests. Never imported by production code.
export { InMemoryApiKeyRepository } from '../feature/identity/api-keys/testing/in-memory-api-key-repository.ts'
