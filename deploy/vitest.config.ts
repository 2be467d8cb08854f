import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // The deployment files are parsed and checked; no database, no Docker engine.
    include: ['src/**/*.spec.ts'],
  },
})
