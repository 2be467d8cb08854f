// The other side of variants-scenario.ts's RSS figure: a process of its own that loads the
// foundation (as the processor does: the same sharp settings), then derives a corpus file
// `derivations` times, `concurrency` at a time, and prints its peak RSS.
// node bench/src/variants-host.ts <corpus file> <concurrency> <derivations>
import { readCorpusFile, TEST_IMAGE_LIMITS } from '@image-service/devstack/corpus'
import { DEFAULT_VARIANT_CONFIG, deriveVariants } from '@image-service/foundation'

export type VariantsHostResult = { maxRssMb: number; concurrency: number; derivations: number; ms: number }

const [file = '', concurrency = '1', derivations = '0'] = process.argv.slice(2)
const bytes = readCorpusFile(file)
const total = Number(derivations)
let next = 0
const started = performance.now()
const slot = async () => {
  while (next < total) {
    next++
    await deriveVariants(bytes, DEFAULT_VARIANT_CONFIG, { limitInputPixels: TEST_IMAGE_LIMITS.maxTotalPixels })
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, slot))
// maxRSS is in kilobytes.
const result: VariantsHostResult = {
  maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  concurrency: Number(concurrency),
  derivations: total,
  ms: Math.round(performance.now() - started),
}
console.log(JSON.stringify(result))
