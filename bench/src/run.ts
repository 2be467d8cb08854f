// `pnpm bench`: dev stack, seeded working set of several owners, the two references and the
// real api and processor as processes, autocannon scenarios, then docs/benchmarks.md.
// Everything started here is stopped here.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findFreePort, repoRoot, startDevStack } from '@image-service/devstack'
import postgres from 'postgres'
import { startApp } from './app-process.ts'
import {
  BENCH_SIGNING,
  type HttpResult,
  httpScenarios,
  meetsTarget,
  primeSignedUrlCache,
  referenceScenarios,
  runHttpScenario,
  signingWindowWaitMs,
} from './http-scenarios.ts'
import { currentLoad, describeMachine } from './machine.ts'
import { type BenchOwner, seedOwners } from './owners.ts'
import { type EventsResult, runEventsScenario } from './events-scenario.ts'
import { type MultipartResult, runMultipartScenario } from './multipart-scenario.ts'
import { type JobsResult, runJobsScenario } from './jobs-scenario.ts'
import { type ProcessorResult, runProcessorScenario } from './processor-scenario.ts'
import { renderRatioTable, renderReport, type HttpRow, type Report, ratioRows } from './report.ts'
import { measureS3Calls, type S3CallsResult } from './s3-calls.ts'
import { describeVariants, runVariantsScenario, type VariantsResult } from './variants-scenario.ts'
import { createSeeder } from './seed.ts'

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const load = {
  connections: num('BENCH_CONNECTIONS', 50),
  warmupSeconds: num('BENCH_WARMUP', 3),
  durationSeconds: num('BENCH_DURATION', 10),
}
// BENCH_ONLY=ceiling,naive,presign,single,batch,processor,events,jobs,multipart,variants,s3calls narrows a run while investigating; BENCH_LOG_LEVELS=warn skips the info pass.
const only = process.env.BENCH_ONLY?.split(',')
const logLevels = (process.env.BENCH_LOG_LEVELS ?? 'warn,info').split(',')
const profileDir = process.env.BENCH_CPU_PROF === '1' ? join(repoRoot, 'bench', '.profiles') : undefined
const wanted = (key: string) => only === undefined || only.includes(key)
const PROCESSOR_TARGET = 300
// The seeds ask for more than 10 MB/s for large files.
const MULTIPART_TARGET_MBPS = 10
const IMAGE_COUNT = 5000
const ownerCount = num('BENCH_OWNERS', 8)
// Sized for this 2-core box, which also runs PostgreSQL: fewer connections pipeline more
// queries per socket write (see bench/notes.md for the measurements). The app default is 10.
const apiPoolMax = process.env.DATABASE_POOL_MAX ?? '3'
// A few owners drive every scenario at thousands of requests a second, far past any real
// owner's budget: the limiter still runs (its cost is measured) but never refuses.
// Likewise the quota: presign reserves MAX_UPLOAD_BYTES per URL, so 5 GiB would refuse after
// 512 per owner; the check and the reservation still run on every issuance.
const unlimited = {
  RATE_LIMIT_PER_MINUTE: '1000000000',
  RATE_LIMIT_ISSUANCE_PER_MINUTE: '1000000000',
  QUOTA_MAX_IMAGES: '1000000000',
  QUOTA_MAX_BYTES: '1000000000000000',
}

const machine = describeMachine()
const commit = describeCommit()
const loadBefore = currentLoad()
const stack = await startDevStack()
const sql = postgres(stack.database.url, { max: 4, onnotice: () => {} })
const postgresPort = Number(new URL(stack.database.url).port) || undefined
const rows: HttpRow[] = []
let processor: ProcessorResult | undefined
let events: EventsResult | undefined
let multipart: MultipartResult | undefined
let jobs: JobsResult | undefined
let variants: VariantsResult | undefined
let s3Calls: S3CallsResult | undefined
const primeMs: Record<string, number> = {}
const answerBytes: Report['answerBytes'] = {}
try {
  const seeder = await createSeeder(sql)
  const owners = await seedOwners(stack.identity, seeder, { ownerCount, imageCount: IMAGE_COUNT })
  const references = referenceScenarios.filter((scenario) => wanted(scenario.key))
  if (references.length > 0) {
    const port = await findFreePort()
    const server = startApp({
      name: 'reference-servers',
      entry: 'bench/src/reference-servers.ts',
      env: { ...stack.env, PORT: String(port) },
    })
    try {
      const baseUrl = `http://127.0.0.1:${port}`
      await server.waitForHttp(`${baseUrl}/health`)
      answerBytes.ceiling = await answerSize(`${baseUrl}/ceiling`, owners)
      answerBytes.naive = await answerSize(`${baseUrl}/naive`, owners)
      for (const scenario of references) {
        const result = await runHttpScenario(baseUrl, scenario, owners, load, { apiPid: server.pid, postgresPort })
        rows.push({ scenario, logLevel: undefined, result, met: undefined })
        logResult(scenario.name, result)
      }
    } finally {
      await server.stop()
    }
  }
  for (const logLevel of logLevels) {
    const scenarios = httpScenarios.filter((scenario) => wanted(scenario.key))
    if (scenarios.length === 0) break
    const port = await findFreePort()
    const api = startApp({
      name: `api-${logLevel}`,
      entry: 'apps/api/src/main.ts',
      env: {
        ...stack.env,
        ...unlimited,
        PORT: String(port),
        LOG_LEVEL: logLevel,
        DATABASE_POOL_MAX: apiPoolMax,
        DOWNLOAD_URL_TTL_SECONDS: String(BENCH_SIGNING.ttlSeconds),
        SIGNED_URL_WINDOW_SECONDS: String(BENCH_SIGNING.windowSeconds),
        ...pick(process.env, 'UV_THREADPOOL_SIZE'),
      },
      ...(profileDir === undefined ? {} : { cpuProfileDir: profileDir }),
    })
    try {
      const baseUrl = `http://127.0.0.1:${port}`
      await api.waitForHttp(`${baseUrl}/api/health/readiness`)
      if (wanted('presign')) answerBytes.presign ??= await answerSize(`${baseUrl}/api/image/v1/upload/create-presigned-url`, owners)
      if (wanted('single') || wanted('batch')) {
        // The priming, then every scenario of this api process, within one signing window.
        const spanSeconds = 30 + scenarios.length * (load.warmupSeconds + load.durationSeconds + 5)
        const waitMs = signingWindowWaitMs(Date.now(), spanSeconds)
        if (waitMs > 0) {
          console.log(`waiting ${waitMs} ms for the signing window to roll before priming [${logLevel}]`)
          await new Promise((resolve) => setTimeout(resolve, waitMs))
        }
        primeMs[logLevel] = await primeSignedUrlCache(baseUrl, owners)
        console.log(`signed the working set of ${IMAGE_COUNT} URLs in ${primeMs[logLevel]} ms [${logLevel}]`)
      }
      for (const scenario of scenarios) {
        const result = await runHttpScenario(baseUrl, scenario, owners, load, { apiPid: api.pid, postgresPort })
        rows.push({ scenario, logLevel, result, met: meetsTarget(scenario, result) })
        logResult(`${scenario.name} [${logLevel}]`, result)
      }
    } finally {
      await api.stop()
    }
  }
  if (wanted('events')) {
    const port = await findFreePort()
    const pollIntervalMs = num('EVENTS_POLL_INTERVAL_MS', 100)
    const api = startApp({
      name: 'api-events',
      entry: 'apps/api/src/main.ts',
      env: {
        ...stack.env,
        ...unlimited,
        PORT: String(port),
        LOG_LEVEL: 'warn',
        DATABASE_POOL_MAX: apiPoolMax,
        EVENTS_POLL_INTERVAL_MS: String(pollIntervalMs),
      },
    })
    try {
      const baseUrl = `http://127.0.0.1:${port}`
      await api.waitForHttp(`${baseUrl}/api/health/readiness`)
      events = await runEventsScenario(baseUrl, sql, owners, { count: num('BENCH_EVENTS_COUNT', 300), pollIntervalMs })
      console.log(
        `events: commit to SSE delivery p50 ${events.p50Ms} ms, p99 ${events.p99Ms} ms, max ${events.maxMs} ms (${events.count} events over ${events.streams} streams, EVENTS_POLL_INTERVAL_MS ${pollIntervalMs})`,
      )
    } finally {
      await api.stop()
    }
  }
  if (wanted('processor')) {
    processor = await runProcessorScenario(stack, sql, {
      count: num('BENCH_PROCESSOR_COUNT', 1000),
      concurrency: num('PROCESSOR_CONCURRENCY', 16),
      postgresPort,
      owners: owners.map((owner) => owner.subject),
      seeder,
      ...(profileDir === undefined ? {} : { cpuProfileDir: profileDir }),
    })
    console.log(
      `processor: ${processor.perSecond} validations/s (${processor.seconds} s for ${processor.count}; steady ${processor.steadyPerSecond}/s), ${processor.failed} failed; CPU s processor ${processor.cpu.apiSeconds}, postgres ${processor.cpu.postgresSeconds}, emulators ${processor.cpu.benchSeconds}, others ${processor.cpu.otherSeconds} in ${processor.cpu.wallSeconds} s`,
    )
  }
  // After the processor scenario: a processor stopped with a long poll pending can leave one
  // message invisible for the visibility timeout, which would stall a count that follows it.
  if (wanted('jobs')) {
    jobs = await runJobsScenario(stack, sql, {
      jobs: num('BENCH_JOBS', 100),
      owners,
      seeder,
      postgresPort,
      pollIntervalMs: num('EVENTS_POLL_INTERVAL_MS', 100),
      env: unlimited,
    })
    console.log(
      `jobs: ${jobs.succeeded} of ${jobs.jobs} succeeded in ${jobs.seconds} s; processor CPU ${Math.round((jobs.cpu.apiSeconds * 1e4) / jobs.jobs) / 10} ms per job, api ${Math.round((jobs.apiCpuSeconds * 1e4) / jobs.jobs) / 10} ms; job events from their row's at to SSE p50 ${jobs.events.p50Ms} ms, p99 ${jobs.events.p99Ms} ms (${jobs.events.count} events, ${jobs.events.missing.length} of ${jobs.events.expected} never arrived, ${jobs.events.controlMissing} missed by the control poller); ${jobs.webhooksEarly} webhooks early; others ${jobs.cpu.otherSeconds} s CPU in ${jobs.cpu.wallSeconds} s`,
    )
  }
  if (wanted('multipart')) {
    multipart = await runMultipartScenario(stack, {
      uploads: num('BENCH_MULTIPART_UPLOADS', 5),
      sizeBytes: 10 * 1024 * 1024,
      authorization: owners[0]?.authorization ?? '',
      env: unlimited,
    })
    console.log(
      `multipart: ${multipart.megabytesPerSecond} MB/s end to end (${multipart.uploads} x 10 MiB, median ${multipart.medianMs} ms from create to ready), ${multipart.failed} failed`,
    )
  }
  if (wanted('variants')) {
    variants = await runVariantsScenario({
      runs: num('BENCH_VARIANTS_RUNS', 15),
      animationRuns: num('BENCH_VARIANTS_ANIMATION_RUNS', 15),
    })
    for (const line of describeVariants(variants)) console.log(line)
  }
  if (wanted('s3calls')) {
    s3Calls = await measureS3Calls({ rounds: num('BENCH_S3_ROUNDS', 5), calls: num('BENCH_S3_CALLS', 300) })
    console.log(`AWS calls, client CPU per call: ${JSON.stringify(s3Calls.cpuUs)} us`)
  }
} finally {
  await sql.end()
  await stack.stop()
}

const notes = readFileSync(join(repoRoot, 'bench', 'notes.md'), 'utf8')
const reportInput: Report = {
  machine,
  commit,
  load,
  loadAverage: { before: loadBefore, after: currentLoad() },
  owners: ownerCount,
  http: rows,
  answerBytes,
  primeMs,
  processor,
  events,
  processorTarget: PROCESSOR_TARGET,
  multipart,
  multipartTargetMBps: MULTIPART_TARGET_MBPS,
  variants,
  jobs,
  s3Calls,
  notes,
}
const report = renderReport(reportInput)
const out = process.env.BENCH_OUTPUT ?? join(repoRoot, 'docs', 'benchmarks.md')
writeFileSync(out, report)
console.log(`wrote ${out}`)
const ratios = renderRatioTable(ratioRows(reportInput))
console.log(
  `\nratios of this run (1-minute load average ${reportInput.loadAverage.before} before, ${reportInput.loadAverage.after} after):\n${ratios.join('\n')}`,
)

/** The commit measured, and whether the working tree differed from it. */
function describeCommit(): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim()
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== ''
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' with uncommitted changes' : ''}`
  } catch {
    return undefined
  }
}

function pick(source: NodeJS.ProcessEnv, ...keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.flatMap((k) => (source[k] === undefined ? [] : [[k, source[k]]])))
}

function logResult(name: string, result: HttpResult): void {
  const { cpu } = result
  console.log(
    `${name}: ${result.reqPerSec} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${result.errors} errors; CPU s app ${cpu.apiSeconds}, postgres ${cpu.postgresSeconds}, bench ${cpu.benchSeconds}, others ${cpu.otherSeconds} in ${cpu.wallSeconds} s`,
  )
}

/** Body bytes of one presign-shaped answer (the first owner's request), to compare the references with the api. */
async function answerSize(url: string, owners: readonly BenchOwner[]): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: owners[0]?.authorization ?? '' },
    body: JSON.stringify({ content_type: 'image/png', file_name: 'holiday photo.png' }),
  })
  const body = await response.text()
  if (response.status !== 201) throw new Error(`${url} answered ${response.status}: ${body}`)
  return Buffer.byteLength(body)
}
