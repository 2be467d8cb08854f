import { defineConfig } from 'vite'

export default defineConfig({
  // The client package is TypeScript source in the workspace; its one dependency is pre-bundled
  // at start-up, so the page never reloads mid-session to optimise a dependency found late.
  optimizeDeps: { include: ['@image-service/client > openapi-fetch', 'thumbhash'] },
  server: { host: '127.0.0.1', strictPort: true },
  preview: { host: '127.0.0.1', strictPort: true },
  build: { target: 'es2022' },
})
