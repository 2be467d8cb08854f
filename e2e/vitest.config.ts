import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.spec.ts'],
    // Each file starts its own dev stack and app processes; on 2 cores they would only slow
    // each other down (and blur the restart test's timing), so files run one after another.
    fileParallelism: false,
    // Corpus cases run as concurrent tests: this bounds uploads in flight at once.
    maxConcurrency: 8,
    // Real processes and a real PostgreSQL: start-up, 10 MiB uploads and redelivery after a
    // visibility timeout take longer than vitest's defaults allow.
    testTimeout: 90_000,
    hookTimeout: 120_000,
  },
})
