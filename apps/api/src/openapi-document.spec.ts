import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { renderOpenApiArtifacts } from './openapi-document.ts'

// Requirement: the committed OpenAPI document and the client's generated types match the routes.
test('the committed OpenAPI document and client types are current (else run pnpm openapi)', async () => {
  for (const { path, text } of await renderOpenApiArtifacts()) {
    expect(readFileSync(path, 'utf8'), `${path} is stale: run pnpm openapi`).toBe(text)
  }
})
