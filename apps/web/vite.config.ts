import { defineConfig } from 'vite'

export default defineConfig({
  // The client package is TypeScript source in the workspace; its one dependency and the page's
  // are pre-bundled at start-up, so the page never reloads mid-session to optimise one found late.
  optimizeDeps: {
    include: ['@image-service/client > openapi-fetch', 'thumbhash', '@uppy/core', '@uppy/dashboard', '@uppy/aws-s3'],
  },
  server: { host: '127.0.0.1', strictPort: true },
  preview: { host: '127.0.0.1', strictPort: true },
  build: { target: 'es2022' },
})
