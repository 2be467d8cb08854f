// Writes the api's OpenAPI document and the client's types generated from it (`pnpm openapi`).
// `--check` writes nothing and exits 1 when a committed copy differs.
import { readFileSync, writeFileSync } from 'node:fs'
import { renderOpenApiArtifacts } from '../src/openapi-document.ts'

const check = process.argv.includes('--check')
const artifacts = await renderOpenApiArtifacts()
let stale = false
for (const { path, text } of artifacts) {
  if (check) {
    const committed = (() => {
      try {
        return readFileSync(path, 'utf8')
      } catch {
        return ''
      }
    })()
    if (committed !== text) {
      stale = true
      console.error(`${path} is stale: run pnpm openapi`)
    }
  } else writeFileSync(path, text)
}
process.exit(stale ? 1 : 0)
