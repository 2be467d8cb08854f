// Types only: what the PostgreSQL global setup hands to tests through vitest's provide/inject.
// Imported (type-only) by test-database.ts, so any package importing createTestDatabase
// from @image-service/devstack sees `inject('databaseServerUrl')` typed.
export {}

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server (any database on it) where tests create their own databases. */
    databaseServerUrl: string
  }
}
