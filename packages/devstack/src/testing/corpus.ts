import { readFileSync } from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../repo-root.ts'

/** One entry of the corpus's public-manifest.json. */
export type CorpusCase = {
  file: string
  declared_content_type: string
  expected: 'ready' | 'failed'
  reason: string
  tags: string[]
}

/**
 * The limits corpus/README.md writes its rule for (the documented defaults): under these, every
 * case ends as its manifest says. Tests validate with them rather than each spelling them out.
 */
export const TEST_IMAGE_LIMITS: {
  readonly maxUploadBytes: number
  readonly maxFramePixels: number
  readonly maxFrames: number
  readonly maxTotalPixels: number
} = Object.freeze({ maxUploadBytes: 10_485_760, maxFramePixels: 50_000_000, maxFrames: 1000, maxTotalPixels: 250_000_000 })

/** The shared corpus of real and hostile images: beside the repository (../shared/corpus), or CORPUS_DIR. */
export function corpusDir(): string {
  return process.env.CORPUS_DIR ?? path.resolve(repoRoot, '..', 'shared', 'corpus')
}

export function readCorpusManifest(): CorpusCase[] {
  const file = path.join(corpusDir(), 'public-manifest.json')
  const manifest: unknown = JSON.parse(readFileSync(file, 'utf8'))
  if (!Array.isArray(manifest) || manifest.length === 0) throw new Error(`empty or malformed corpus manifest: ${file}`)
  return manifest as CorpusCase[]
}

export function readCorpusFile(name: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(corpusDir(), 'files', name)))
}
export { noisePng } from './noise-png.ts'
export { PHONE_JPEG_SERIAL, phoneJpeg } from './phone-jpeg.ts'
