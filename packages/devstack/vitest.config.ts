import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    globalSetup: ['./src/testing/postgres-global-setup.ts'],
    // Starting real servers (PostgreSQL, emulators) takes longer than vitest's defaults allow.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
