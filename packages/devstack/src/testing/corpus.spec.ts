import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { corpusDir, readCorpusFile, readCorpusManifest } from './corpus.ts'

describe('corpus', () => {
  const saved = process.env.CORPUS_DIR
  afterEach(() => {
    if (saved === undefined) delete process.env.CORPUS_DIR
    else process.env.CORPUS_DIR = saved
  })

  it('reads the shared manifest, whose every file is there', () => {
    const cases = readCorpusManifest()
    expect(cases.length).toBeGreaterThan(100)
    for (const c of cases) expect(existsSync(path.join(corpusDir(), 'files', c.file))).toBe(true)
    expect(readCorpusFile(cases[0]?.file ?? '').length).toBeGreaterThan(0)
  })

  it('follows CORPUS_DIR, and refuses an empty manifest', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'devstack-corpus-'))
    try {
      await mkdir(path.join(dir, 'files'))
      await writeFile(path.join(dir, 'files', 'one.png'), 'x')
      await writeFile(path.join(dir, 'public-manifest.json'), '[]')
      process.env.CORPUS_DIR = dir
      expect(corpusDir()).toBe(dir)
      expect(readCorpusFile('one.png')).toEqual(new Uint8Array([0x78]))
      expect(() => readCorpusManifest()).toThrow(/empty or malformed corpus manifest/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
