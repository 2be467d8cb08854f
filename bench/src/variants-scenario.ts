// Variants (`BENCH_ONLY=variants`, or `node bench/src/variants-scenario.ts` alone): what
// deriveVariants costs against a naive sharp pipeline measured in the same run, the peak RSS
// of a process deriving at the processor's concurrency, and how long a 1,000-frame animation
// holds a worker against a small PNG.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { readCorpusFile, TEST_IMAGE_LIMITS } from '@image-service/devstack/corpus'
import { DEFAULT_VARIANT_CONFIG, deriveVariants, inspectContent } from '@image-service/foundation'
import sharp, { type WebpOptions } from 'sharp'
import { currentLoad } from './machine.ts'
import type { VariantsHostResult } from './variants-host.ts'

export const PHOTO = 'valid-jpeg-12mp-4000x3000.jpg'
export const SMALL_PNG = 'valid-png-palette-trns-128x128.png'
/** The processor's default PROCESSOR_CONCURRENCY. */
export const DEFAULT_CONCURRENCY = 4
const limitInputPixels = TEST_IMAGE_LIMITS.maxTotalPixels

/** Median wall and CPU (this process, all threads) of one way of deriving. */
export type Timing = { medianMs: number; medianCpuMs: number; runs: number }

export type VariantsResult = {
  photo: { file: string; derive: Timing; naive: Timing; naiveSameSettings: Timing }
  rss: { concurrency: number; derivations: number; maxRssMb: number; idleMaxRssMb: number; oneAtATimeMaxRssMb: number }
  animation: {
    frames: number
    width: number
    height: number
    bytes: number
    keptFrames: number
    animation: Timing
    /** The small PNG in turn with the animation, as a worker would take them. */
    smallPng: Timing
    /** The small PNG one after another, with no animation in between. */
    smallPngAlone: Timing
  }
  loadAverage: { before: number; after: number }
}

type Way = { name: string; run: () => Promise<unknown> }

/** Runs every way once per round, in a fresh random order each round, after `warmups` rounds. */
async function interleave(ways: readonly Way[], rounds: number, warmups: number): Promise<Map<string, Timing>> {
  const samples = new Map(ways.map((w) => [w.name, { wall: [] as number[], cpu: [] as number[] }]))
  for (let round = -warmups; round < rounds; round++) {
    const order = [...ways].sort(() => Math.random() - 0.5)
    for (const way of order) {
      const cpu = process.cpuUsage()
      const started = performance.now()
      await way.run()
      const wall = performance.now() - started
      const used = process.cpuUsage(cpu)
      if (round < 0) continue
      const s = samples.get(way.name)
      s?.wall.push(wall)
      s?.cpu.push((used.user + used.system) / 1000)
    }
  }
  return new Map([...samples].map(([name, s]) => [name, { medianMs: median(s.wall), medianCpuMs: median(s.cpu), runs: s.wall.length }]))
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const value = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
  return Math.round(value * 10) / 10
}

/** The textbook pipeline: one decode per size, each straight from the original. */
async function naive(input: Uint8Array, webp: WebpOptions | undefined): Promise<Buffer[]> {
  const out: Buffer[] = []
  for (const { longestEdge: n } of DEFAULT_VARIANT_CONFIG.sizes) {
    out.push(await sharp(input).rotate().resize(n, n, { fit: 'inside', withoutEnlargement: true }).webp(webp).toBuffer())
  }
  return out
}

/** The derivation and the naive pipeline must produce the same sizes, or the ratio compares different work. */
async function checkSameSizes(photo: Uint8Array): Promise<void> {
  const derived = await deriveVariants(photo, DEFAULT_VARIANT_CONFIG, { limitInputPixels })
  const naiveOut = await naive(photo, undefined)
  const naiveSizes = await Promise.all(
    naiveOut.map(async (b) => `${(await sharp(b).metadata()).width}x${(await sharp(b).metadata()).height}`),
  )
  const derivedSizes = DEFAULT_VARIANT_CONFIG.sizes.map((size) => {
    const v = derived.variants.find((x) => x.name === size.name)
    return `${v?.width}x${v?.height}`
  })
  if (naiveSizes.join() !== derivedSizes.join()) throw new Error(`naive sizes ${naiveSizes} differ from derived ${derivedSizes}`)
}

const hostEntry = fileURLToPath(new URL('./variants-host.ts', import.meta.url))
const run = promisify(execFile)

/** A fresh process deriving `derivations` times, `concurrency` at a time: its maxRSS. */
async function hostRss(concurrency: number, derivations: number): Promise<VariantsHostResult> {
  const { stdout } = await run(process.execPath, [hostEntry, PHOTO, String(concurrency), String(derivations)], {
    maxBuffer: 1024 * 1024,
  })
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as VariantsHostResult
}

const ANIMATION = { frames: 1000, width: 400, height: 400 }

/**
 * A valid 1,000-frame 400x400 GIF (160 M pixels, within MAX_TOTAL_PIXELS 250 M and under
 * MAX_UPLOAD_BYTES): a square moving over a background whose colour drifts. Building it takes
 * about a minute, so it is kept in the temporary directory and checked with inspectContent.
 */
export async function animationGif(): Promise<Uint8Array> {
  const { frames, width, height } = ANIMATION
  const dir = join(tmpdir(), 'image-service-bench')
  const path = join(dir, `animation-${frames}x${width}x${height}.gif`)
  if (!existsSync(path)) {
    console.log(`variants: building ${path} (${frames} frames of ${width}x${height}, once)`)
    const frameBytes = width * height * 3
    const pixels = Buffer.alloc(frameBytes * frames)
    const side = 60
    for (let f = 0; f < frames; f++) {
      const base = f * frameBytes
      const background = [40 + (f % 64), 90, 160 - (f % 64)]
      for (let i = 0; i < width * height; i++) {
        pixels[base + i * 3] = background[0] as number
        pixels[base + i * 3 + 1] = background[1] as number
        pixels[base + i * 3 + 2] = background[2] as number
      }
      const x0 = (f * 7) % (width - side)
      const y0 = (f * 3) % (height - side)
      for (let y = y0; y < y0 + side; y++) {
        for (let x = x0; x < x0 + side; x++) {
          const p = base + (y * width + x) * 3
          pixels[p] = 250
          pixels[p + 1] = (f * 5) % 256
          pixels[p + 2] = 30
        }
      }
    }
    const gif = await sharp(pixels, { raw: { width, height: height * frames, channels: 3, pageHeight: height } })
      .gif({ delay: Array.from({ length: frames }, () => 40), loop: 0, effort: 1 })
      .toBuffer()
    mkdirSync(dir, { recursive: true })
    writeFileSync(`${path}.part`, gif)
    renameSync(`${path}.part`, path)
  }
  const bytes = new Uint8Array(readFileSync(path))
  const meta = await sharp(bytes, { pages: -1, limitInputPixels }).metadata()
  if (meta.pages !== frames || meta.width !== width || meta.pageHeight !== height)
    throw new Error(`${path}: ${meta.pages} frames of ${meta.width}x${meta.pageHeight}, expected ${frames} of ${width}x${height}`)
  const inspection = await inspectContent(bytes, 'image/gif', TEST_IMAGE_LIMITS)
  if (!inspection.ok) throw new Error(`${path} is not a valid upload: ${inspection.reason} ${inspection.detail}`)
  return bytes
}

export async function runVariantsScenario(options: { runs: number; animationRuns: number }): Promise<VariantsResult> {
  const before = currentLoad()
  const photo = readCorpusFile(PHOTO)
  await checkSameSizes(photo)
  const photoTimings = await interleave(
    [
      { name: 'derive', run: () => deriveVariants(photo, DEFAULT_VARIANT_CONFIG, { limitInputPixels }) },
      { name: 'naive', run: () => naive(photo, undefined) },
      { name: 'naiveSame', run: () => naive(photo, { quality: 80, effort: 2 }) },
    ],
    options.runs,
    2,
  )

  // One host after the other, so they never share the cores with each other.
  const derivations = DEFAULT_CONCURRENCY * 4
  const idle = await hostRss(1, 0)
  const oneAtATime = await hostRss(1, derivations)
  const concurrent = await hostRss(DEFAULT_CONCURRENCY, derivations)

  const gif = await animationGif()
  const derivedGif = await deriveVariants(gif, DEFAULT_VARIANT_CONFIG, { limitInputPixels })
  const keptFrames = Math.min(
    ...(await Promise.all(derivedGif.variants.map(async (v) => (await sharp(v.bytes, { pages: -1 }).metadata()).pages ?? 1))),
  )
  const png = readCorpusFile(SMALL_PNG)
  const derivePng = () => deriveVariants(png, DEFAULT_VARIANT_CONFIG, { limitInputPixels })
  const pngAlone = await interleave([{ name: 'png', run: derivePng }], options.animationRuns, 1)
  const gifTimings = await interleave(
    [
      { name: 'animation', run: () => deriveVariants(gif, DEFAULT_VARIANT_CONFIG, { limitInputPixels }) },
      { name: 'png', run: derivePng },
    ],
    options.animationRuns,
    1,
  )
  const timing = (map: Map<string, Timing>, name: string) => map.get(name) as Timing
  return {
    photo: {
      file: PHOTO,
      derive: timing(photoTimings, 'derive'),
      naive: timing(photoTimings, 'naive'),
      naiveSameSettings: timing(photoTimings, 'naiveSame'),
    },
    rss: {
      concurrency: DEFAULT_CONCURRENCY,
      derivations,
      maxRssMb: concurrent.maxRssMb,
      idleMaxRssMb: idle.maxRssMb,
      oneAtATimeMaxRssMb: oneAtATime.maxRssMb,
    },
    animation: {
      ...ANIMATION,
      bytes: gif.length,
      keptFrames,
      animation: timing(gifTimings, 'animation'),
      smallPng: timing(gifTimings, 'png'),
      smallPngAlone: timing(pngAlone, 'png'),
    },
    loadAverage: { before, after: currentLoad() },
  }
}

export function describeVariants(v: VariantsResult): string[] {
  const { photo, rss, animation } = v
  const r = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '-')
  return [
    `variants: ${photo.file} to ${DEFAULT_VARIANT_CONFIG.sizes.length} WebP sizes + placeholder: deriveVariants median ${photo.derive.medianMs} ms (CPU ${photo.derive.medianCpuMs} ms), naive ${photo.naive.medianMs} ms (CPU ${photo.naive.medianCpuMs} ms), naive at q80 effort 2 ${photo.naiveSameSettings.medianMs} ms (CPU ${photo.naiveSameSettings.medianCpuMs} ms); ratio ${r(photo.derive.medianMs, photo.naive.medianMs)} (same settings ${r(photo.derive.medianMs, photo.naiveSameSettings.medianMs)}) over ${photo.derive.runs} runs each`,
    `variants: peak RSS deriving ${rss.derivations} x 12 MP, ${rss.concurrency} at a time: ${rss.maxRssMb} MB (one at a time ${rss.oneAtATimeMaxRssMb} MB, idle ${rss.idleMaxRssMb} MB)`,
    `variants: ${animation.frames}-frame ${animation.width}x${animation.height} GIF (${animation.bytes} B, ${animation.keptFrames} frames kept) ${animation.animation.medianMs} ms (CPU ${animation.animation.medianCpuMs} ms), small PNG ${animation.smallPng.medianMs} ms in turn with it (${animation.smallPngAlone.medianMs} ms alone); ratio ${r(animation.animation.medianMs, animation.smallPngAlone.medianMs)}`,
  ]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runVariantsScenario({
    runs: Number(process.env.BENCH_VARIANTS_RUNS ?? 15),
    animationRuns: Number(process.env.BENCH_VARIANTS_ANIMATION_RUNS ?? 15),
  })
  for (const line of describeVariants(result)) console.log(line)
  console.log(JSON.stringify(result))
}
