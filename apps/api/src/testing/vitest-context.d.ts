// Provided by packages/devstack/src/testing/postgres-global-setup.ts (see vitest.config.ts).
declare module 'vitest' {
  export interface ProvidedContext {
    databaseServerUrl: string
  }
}
export {}
