import { readFileSync } from 'node:fs'
import path from 'node:path'

export type CorpusCase = {
  file: string
  declared_content_type: string
  expected: 'ready' | 'failed'
  reason: string
  tags: string[]
}

export const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..')
export const corpusDir = process.env.CORPUS_DIR ?? path.resolve(repoRoot, '..', 'shared', 'corpus')

export function loadCorpus(): CorpusCase[] {
  const manifest: unknown = JSON.parse(readFileSync(path.join(corpusDir, 'public-manifest.json'), 'utf8'))
  if (!Array.isArray(manifest) || manifest.length === 0) throw new Error(`empty or malformed manifest in ${corpusDir}`)
  return manifest as CorpusCase[]
}

export function readCorpusFile(name: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(corpusDir, 'files', name)))
}

/** A readable test name: the same file appears under several declared types. */
export const caseName = (c: CorpusCase) => `${c.file} as ${c.declared_content_type} -> ${c.expected}`
