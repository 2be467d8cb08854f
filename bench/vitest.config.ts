import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    // One PostgreSQL server per run (embedded, or DATABASE_URL's); each test file creates its own database.
    globalSetup: ['../packages/devstack/src/testing/postgres-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
