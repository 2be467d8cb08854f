import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['e2e/**/*.spec.ts'],
    // The whole system (PostgreSQL, emulators, api, processor), Vite and Chromium start for the file.
    testTimeout: 90_000,
    hookTimeout: 120_000,
  },
})
