export * from './types.ts'
export { startPostgres, type StartPostgresOptions, type RunningPostgres } from './postgres.ts'
export { createTestDatabase, type TestDatabase } from './testing/test-database.ts'
