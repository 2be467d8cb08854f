// `node bench/src/decode-isolation.ts`: what it costs to run the decode (inspectContent) away
// from the processor's main thread, and what that buys. Per validation, on corpus files:
// in-process, in a long-lived worker thread, in a fresh worker thread, in a long-lived child
// process; then what a worker's resourceLimits bound (the V8 heap, best-effort) and do not
// (libvips memory).
// Findings: apps/processor/README.md, "Crash collateral", and bench/notes.md.
import { type ChildProcess, fork, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { readCorpusFile, TEST_IMAGE_LIMITS as limits } from '@image-service/devstack/corpus'
import { inspectContent } from '../../packages/foundation/src/feature/image/validate/image-inspection.ts'
import type { HostReply, HostRequest } from './decode-host.ts'
import { currentLoad, describeMachine } from './machine.ts'

const hostEntry = new URL('./decode-host.ts', import.meta.url)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)

type Sample = { file: string; contentType: 'image/png' | 'image/jpeg'; iterations: number }
const samples: Sample[] = [
  { file: 'valid-png-palette-trns-128x128.png', contentType: 'image/png', iterations: 300 },
  { file: 'valid-jpeg-12mp-4000x3000.jpg', contentType: 'image/jpeg', iterations: 40 },
]

/** Request/reply over a worker's port or a child's IPC channel. */
type Host = { call(request: HostRequest): Promise<HostReply>; close(): Promise<void>; exited: Promise<string> }

function connect(
  send: (request: HostRequest) => void,
  on: (listener: (reply: HostReply) => void) => void,
  close: () => Promise<unknown>,
  exited: Promise<string>,
): Host {
  const waiting = new Map<number, (reply: HostReply) => void>()
  on((reply) => {
    waiting.get(reply.id)?.(reply)
    waiting.delete(reply.id)
  })
  return {
    call(request) {
      return new Promise((resolve, reject) => {
        waiting.set(request.id, resolve)
        void exited.then((how) => reject(new Error(how)))
        send(request)
      })
    },
    close: async () => void (await close()),
    exited,
  }
}

let ids = 0
const id = () => ++ids

function startWorker(resourceLimits?: { maxOldGenerationSizeMb: number }): Host {
  const worker = new Worker(hostEntry, resourceLimits === undefined ? {} : { resourceLimits })
  const exited = new Promise<string>((resolve) => {
    worker.once('error', (error: Error & { code?: string }) => resolve(`worker error ${error.code ?? error.message}`))
    worker.once('exit', (code) => resolve(`worker exit ${code}`))
  })
  return connect(
    (r) => worker.postMessage(r),
    (l) => worker.on('message', l),
    () => worker.terminate(),
    exited,
  )
}

function startChild(): Host {
  const child: ChildProcess = fork(hostEntry, [], { serialization: 'advanced', stdio: 'inherit' })
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`child exit ${code ?? signal}`)))
  return connect(
    (r) => child.send(r),
    (l) => child.on('message', (m) => l(m as HostReply)),
    async () => {
      child.kill()
      await exited
    },
    exited,
  )
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
const cpuMicros = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

type Row = { mode: string; file: string; medianMs: number; cpuMsPerValidation: number }
const rows: Row[] = []

async function measure(mode: string, sample: Sample, run: (bytes: Uint8Array) => Promise<void>, extraCpu?: () => Promise<number>) {
  const bytes = readCorpusFile(sample.file)
  for (let i = 0; i < 5; i++) await run(bytes) // warm-up
  const durations: number[] = []
  const cpuBefore = cpuMicros() + (extraCpu === undefined ? 0 : await extraCpu())
  for (let i = 0; i < sample.iterations; i++) {
    const started = performance.now()
    await run(bytes)
    durations.push(performance.now() - started)
  }
  const cpu = cpuMicros() + (extraCpu === undefined ? 0 : await extraCpu()) - cpuBefore
  rows.push({ mode, file: sample.file, medianMs: median(durations), cpuMsPerValidation: cpu / 1000 / sample.iterations })
}

const expectOk = (reply: HostReply | { ok: boolean }) => {
  if (!reply.ok) throw new Error('a valid corpus file failed inspection')
}

if (process.argv[2] === 'heap-probe') await heapProbe()

/** One worker that used libvips, then exhausts its JS heap; prints how it ended if this process survives. */
async function heapProbe(): Promise<never> {
  const limited = startWorker({ maxOldGenerationSizeMb: 64 })
  await limited.call({ kind: 'native', id: id(), megabytes: 64 })
  await limited.call({ kind: 'heap', id: id() }).catch(() => undefined)
  console.log(await limited.exited)
  process.exit(0)
}

console.log(JSON.stringify({ machine: describeMachine(), loadBefore: currentLoad() }))
for (let round = 1; round <= rounds; round++) {
  for (const sample of samples) {
    await measure('in-process', sample, async (bytes) => expectOk(await inspectContent(bytes, sample.contentType, limits)))

    const worker = startWorker({ maxOldGenerationSizeMb: 256 })
    await measure('worker thread (long-lived, bytes copied)', sample, async (bytes) =>
      expectOk(await worker.call({ kind: 'inspect', id: id(), bytes, contentType: sample.contentType, limits })),
    )
    await worker.close()

    await measure('worker thread (one per validation)', { ...sample, iterations: Math.min(sample.iterations, 30) }, async (bytes) => {
      const fresh = startWorker({ maxOldGenerationSizeMb: 256 })
      expectOk(await fresh.call({ kind: 'inspect', id: id(), bytes, contentType: sample.contentType, limits }))
      await fresh.close()
    })

    const child = startChild()
    const childCpu = async () => (await child.call({ kind: 'usage', id: id() })).cpuMicros ?? 0
    await measure(
      'child process (long-lived, bytes copied)',
      sample,
      async (bytes) => expectOk(await child.call({ kind: 'inspect', id: id(), bytes, contentType: sample.contentType, limits })),
      childCpu,
    )
    await child.close()
  }
  for (const row of rows.splice(0)) {
    console.log(
      `round ${round}  ${row.file.padEnd(36)} ${row.mode.padEnd(42)} median ${row.medianMs.toFixed(2).padStart(7)} ms  CPU ${row.cpuMsPerValidation.toFixed(2).padStart(7)} ms/validation`,
    )
  }
}

// Idle footprint: what each long-lived worker or child costs before it decodes anything.
{
  const rssMb = () => Math.round(process.memoryUsage().rss / 1e6)
  const before = rssMb()
  const workers = [startWorker(), startWorker(), startWorker(), startWorker()]
  const replies = await Promise.all(workers.map((w) => w.call({ kind: 'usage', id: id() })))
  console.log(`4 idle worker threads (sharp loaded): process RSS ${before} -> ${replies.at(-1)?.rssMb} MB`)
  await Promise.all(workers.map((w) => w.close()))
  const child = startChild()
  console.log(`1 idle child process (sharp loaded): its RSS ${(await child.call({ kind: 'usage', id: id() })).rssMb} MB`)
  await child.close()
}

// resourceLimits bound the V8 heap of a worker, not what libvips allocates for it.
{
  const limited = startWorker({ maxOldGenerationSizeMb: 64 })
  const native = await limited.call({ kind: 'native', id: id(), megabytes: 512 })
  console.log(`worker with maxOldGenerationSizeMb 64 allocated 512 MB in libvips: ok=${native.ok}, process RSS ${native.rssMb} MB`)
  await limited.close()
}

// And even for the V8 heap the limit is best-effort (nodejs/node#47224): the same exhaustion
// sometimes terminates only the worker, sometimes aborts the whole process. Each try runs in
// its own process (heapProbe below) so this one survives to count.
{
  const tries = Number(process.env.BENCH_HEAP_TRIES ?? 16)
  const outcomes = new Map<string, number>()
  for (let i = 0; i < tries; i++) {
    const probe = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'heap-probe'], { encoding: 'utf8' })
    const outcome = probe.status === 0 ? probe.stdout.trim() : `process died (${probe.signal ?? `exit ${probe.status}`})`
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
  }
  console.log(`a worker (maxOldGenerationSizeMb 64) filling its JS heap, ${tries} tries: ${JSON.stringify(Object.fromEntries(outcomes))}`)
}
console.log(JSON.stringify({ loadAfter: currentLoad() }))
