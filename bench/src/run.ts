// `pnpm bench`: dev stack, seeded working set, the real api and processor as processes,
// autocannon scenarios, then docs/benchmarks.md. Everything started here is stopped here.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findFreePort, repoRoot, startDevStack } from '@image-service/devstack'
import postgres from 'postgres'
import { startApp } from './app-process.ts'
import { httpScenarios, meetsTarget, primeSignedUrlCache, runHttpScenario } from './http-scenarios.ts'
import { currentLoad, describeMachine } from './machine.ts'
import { type ProcessorResult, runProcessorScenario } from './processor-scenario.ts'
import { renderReport, type HttpRow } from './report.ts'
import { seedReadyImages } from './seed.ts'

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const load = { connections: num('BENCH_CONNECTIONS', 50), warmupSeconds: num('BENCH_WARMUP', 3), durationSeconds: num('BENCH_DURATION', 10) }
// BENCH_ONLY=presign,single,batch,processor narrows a run while investigating; BENCH_LOG_LEVELS=warn skips the info pass.
const only = process.env.BENCH_ONLY?.split(',')
const logLevels = (process.env.BENCH_LOG_LEVELS ?? 'warn,info').split(',')
const profileDir = process.env.BENCH_CPU_PROF === '1' ? join(repoRoot, 'bench', '.profiles') : undefined
const wanted = (key: string) => only === undefined || only.includes(key)
const scenarioKeys = ['presign', 'single', 'batch']
const PROCESSOR_TARGET = 300
// Sized for this 2-core box, which also runs PostgreSQL: fewer connections pipeline more
// queries per socket write (see bench/notes.md for the measurements). The app default is 10.
const apiPoolMax = process.env.DATABASE_POOL_MAX ?? '3'
// One token drives every scenario, far past any real owner's budget: the limiter still runs
// (its cost is measured) but never refuses.
const unlimited = { RATE_LIMIT_PER_MINUTE: '1000000000', RATE_LIMIT_ISSUANCE_PER_MINUTE: '1000000000' }

const machine = describeMachine()
const loadBefore = currentLoad()
const stack = await startDevStack()
const sql = postgres(stack.database.url, { max: 4, onnotice: () => {} })
const postgresPort = Number(new URL(stack.database.url).port) || undefined
const rows: HttpRow[] = []
let processor: ProcessorResult | undefined
const primeMs: Record<string, number> = {}
try {
  const ids = await seedReadyImages(sql, 5000)
  for (const logLevel of logLevels) {
    const scenarios = httpScenarios.filter((_, i) => wanted(scenarioKeys[i] as string))
    if (scenarios.length === 0) break
    const port = await findFreePort()
    const api = startApp({
      name: `api-${logLevel}`,
      entry: 'apps/api/src/main.ts',
      env: { ...stack.env, ...unlimited, PORT: String(port), LOG_LEVEL: logLevel, DATABASE_POOL_MAX: apiPoolMax, ...pick(process.env, 'UV_THREADPOOL_SIZE') },
      ...(profileDir === undefined ? {} : { cpuProfileDir: profileDir }),
    })
    try {
      const baseUrl = `http://127.0.0.1:${port}`
      await api.waitForHttp(`${baseUrl}/api/health/readiness`)
      if (wanted('single') || wanted('batch')) {
        primeMs[logLevel] = await primeSignedUrlCache(baseUrl, ids)
        console.log(`signed the working set of ${ids.length} URLs in ${primeMs[logLevel]} ms [${logLevel}]`)
      }
      for (const scenario of scenarios) {
        const result = await runHttpScenario(baseUrl, scenario, ids, load, { apiPid: api.pid, postgresPort })
        rows.push({ scenario, logLevel, result, met: meetsTarget(scenario, result) })
        console.log(`${scenario.name} [${logLevel}]: ${result.reqPerSec} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${result.errors} errors; CPU s api ${result.cpu.apiSeconds}, postgres ${result.cpu.postgresSeconds}, bench ${result.cpu.benchSeconds}, others ${result.cpu.otherSeconds} in ${result.cpu.wallSeconds} s`)
      }
    } finally {
      await api.stop()
    }
  }
  if (wanted('processor')) {
    processor = await runProcessorScenario(stack, sql, {
      count: num('BENCH_PROCESSOR_COUNT', 1000),
      concurrency: num('PROCESSOR_CONCURRENCY', 16),
      postgresPort,
      ...(profileDir === undefined ? {} : { cpuProfileDir: profileDir }),
    })
    console.log(`processor: ${processor.perSecond} validations/s (${processor.seconds} s for ${processor.count}; steady ${processor.steadyPerSecond}/s), ${processor.failed} failed; CPU s processor ${processor.cpu.apiSeconds}, postgres ${processor.cpu.postgresSeconds}, emulators ${processor.cpu.benchSeconds}, others ${processor.cpu.otherSeconds} in ${processor.cpu.wallSeconds} s`)
  }
} finally {
  await sql.end()
  await stack.stop()
}

const notes = readFileSync(join(repoRoot, 'bench', 'notes.md'), 'utf8')
const report = renderReport({ machine, load, loadAverage: { before: loadBefore, after: currentLoad() }, http: rows, primeMs, processor, processorTarget: PROCESSOR_TARGET, notes })
const out = process.env.BENCH_OUTPUT ?? join(repoRoot, 'docs', 'benchmarks.md')
writeFileSync(out, report)
console.log(`wrote ${out}`)

function pick(source: NodeJS.ProcessEnv, ...keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.flatMap((k) => (source[k] === undefined ? [] : [[k, source[k]]])))
}
