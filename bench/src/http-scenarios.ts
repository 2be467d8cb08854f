import autocannon from 'autocannon'
import { type CpuSplit, startCpuAccounting } from './cpu.ts'
import type { BenchOwner } from './owners.ts'
import { pickDistinct } from './seed.ts'

export type ScenarioKey = 'presign' | 'single' | 'batch' | 'ceiling' | 'naive'

export type HttpScenario = {
  key: ScenarioKey
  name: string
  /** None for the references: they measure the machine and the framework, not the service. */
  target?: { reqPerSec: number; p99Ms?: number }
  expectStatus: number
  /** The request of one owner: it carries that owner's token and asks for that owner's images. */
  request: (owner: BenchOwner) => autocannon.Request
}

export type HttpResult = {
  reqPerSec: number
  p50Ms: number
  p99Ms: number
  /** Connection errors, timeouts and any status other than the expected one. */
  errors: number
  requests: number
  /** CPU seconds of each party during the measured run (the system PostgreSQL counts too if busy). */
  cpu: CpuSplit
}

const json = { 'content-type': 'application/json' }
const presignBody = JSON.stringify({ content_type: 'image/png', file_name: 'holiday photo.png' })

/** The presign request, sent to the api and, unchanged but for the path, to both references. */
const presignRequest =
  (path: string) =>
  (owner: BenchOwner): autocannon.Request => ({
    method: 'POST',
    path,
    headers: { ...json, authorization: owner.authorization },
    body: presignBody,
  })

export const httpScenarios: HttpScenario[] = [
  {
    key: 'presign',
    name: 'presign (POST create-presigned-url, with the INSERT)',
    target: { reqPerSec: 3500, p99Ms: 50 },
    expectStatus: 201,
    request: presignRequest('/api/image/v1/upload/create-presigned-url'),
  },
  {
    key: 'single',
    name: 'single signed URL (GET get-signed-url/:id)',
    target: { reqPerSec: 5000 },
    expectStatus: 200,
    request: (owner) => ({
      method: 'GET',
      headers: { authorization: owner.authorization },
      setupRequest: (req) => ({ ...req, path: `/api/image/v1/download/get-signed-url/${pickDistinct(owner.imageIds, 1)[0]}` }),
    }),
  },
  {
    key: 'batch',
    name: 'batch of 50 signed URLs (POST get-signed-urls)',
    target: { reqPerSec: 900 },
    expectStatus: 200,
    request: (owner) => ({
      method: 'POST',
      path: '/api/image/v1/download/get-signed-urls',
      headers: { ...json, authorization: owner.authorization },
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ image_ids: pickDistinct(owner.imageIds, 50) }) }),
    }),
  },
]

/** Served by bench/src/reference-servers.ts; the same request as presign, the same load. */
export const referenceScenarios: HttpScenario[] = [
  {
    key: 'ceiling',
    name: 'reference ceiling (bare Fastify route, constant body the size of a presign answer)',
    expectStatus: 201,
    request: presignRequest('/ceiling'),
  },
  {
    key: 'naive',
    name: 'reference naive presign (Fastify + getSignedUrl(PutObjectCommand), no database)',
    expectStatus: 201,
    request: presignRequest('/naive'),
  },
]

export type LoadOptions = { connections: number; warmupSeconds: number; durationSeconds: number }

/**
 * A warm-up run (JIT, pools, caches; discarded), then the measured run at the same load. Each
 * connection goes through one request per owner in turn (autocannon's request sequence), so
 * the owners' tokens take turns, and a request without a dynamic part is built only once.
 */
export async function runHttpScenario(
  baseUrl: string,
  scenario: HttpScenario,
  owners: readonly BenchOwner[],
  load: LoadOptions,
  pids: { apiPid: number | undefined; postgresPort: number | undefined },
): Promise<HttpResult> {
  const run = (duration: number) =>
    autocannon({ url: baseUrl, connections: load.connections, duration, requests: owners.map(scenario.request) })
  await run(load.warmupSeconds)
  const cpuSince = startCpuAccounting(pids.apiPid, pids.postgresPort)
  const result = await run(load.durationSeconds)
  const cpu = cpuSince()
  const expected = result.statusCodeStats?.[`${scenario.expectStatus}`]?.count ?? 0
  const answered = Object.values(result.statusCodeStats ?? {}).reduce((sum, s) => sum + (s.count ?? 0), 0)
  return {
    reqPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + (answered - expected),
    requests: result.requests.total,
    cpu,
  }
}

/** undefined for a reference, which has no target. */
export function meetsTarget(scenario: HttpScenario, result: HttpResult): boolean | undefined {
  if (scenario.target === undefined) return undefined
  const fast = scenario.target.p99Ms === undefined || result.p99Ms <= scenario.target.p99Ms
  return result.reqPerSec >= scenario.target.reqPerSec && fast && result.errors === 0
}

/** The api's signing window in the bench: one hour, the longest a one-hour URL lifetime allows. */
export const BENCH_SIGNING = { ttlSeconds: 3600, windowSeconds: 3600 }

/**
 * How long to wait before priming so that the expiry window every cached URL shares (the window
 * that holds now + TTL) does not roll over in the next `spanSeconds`: a roll in the middle of a
 * download scenario re-signs the whole working set (about 1 ms of RSA per URL), which measures
 * the one-off cost again instead of the steady state. 0 when no boundary is that near.
 */
export function signingWindowWaitMs(nowMs: number, spanSeconds: number, signing = BENCH_SIGNING): number {
  const now = nowMs / 1000
  const nextRoll = (Math.floor((now + signing.ttlSeconds) / signing.windowSeconds) + 1) * signing.windowSeconds - signing.ttlSeconds
  return nextRoll - now < spanSeconds ? Math.ceil((nextRoll - now + 1) * 1000) : 0
}

/**
 * Asks once for a signed URL of every image in the working set (batches of 50, each with its
 * owner's token), so the download scenarios measure the steady state of a signing window (URLs
 * cached) rather than the one-off cost of signing 5,000 URLs, which the notes report separately.
 */
export async function primeSignedUrlCache(baseUrl: string, owners: readonly BenchOwner[]): Promise<number> {
  const started = performance.now()
  const batches: { authorization: string; ids: string[] }[] = []
  for (const owner of owners) {
    for (let i = 0; i < owner.imageIds.length; i += 50)
      batches.push({ authorization: owner.authorization, ids: owner.imageIds.slice(i, i + 50) })
  }
  let next = 0
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++] as (typeof batches)[number]
      const response = await fetch(`${baseUrl}/api/image/v1/download/get-signed-urls`, {
        method: 'POST',
        headers: { ...json, authorization: batch.authorization },
        body: JSON.stringify({ image_ids: batch.ids }),
      })
      if (response.status !== 200) throw new Error(`priming the signed URL cache: HTTP ${response.status}`)
      const body = (await response.json()) as { not_found: string[] }
      // Every id is its owner's and ready: one missing would leave the cache cold for it.
      if (body.not_found.length > 0) throw new Error(`priming the signed URL cache: ${body.not_found.length} ids not found`)
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  return Math.round(performance.now() - started)
}
