import autocannon from 'autocannon'
import { type CpuSplit, startCpuAccounting } from './cpu.ts'
import { pickDistinct } from './seed.ts'

export type HttpScenario = {
  name: string
  target: { reqPerSec: number; p99Ms?: number }
  expectStatus: number
  request: (ids: readonly string[]) => autocannon.Request
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

export const httpScenarios: HttpScenario[] = [
  {
    name: 'presign (POST create-presigned-url, with the INSERT)',
    target: { reqPerSec: 3500, p99Ms: 50 },
    expectStatus: 201,
    request: () => ({
      method: 'POST',
      path: '/api/image/v1/upload/create-presigned-url',
      headers: json,
      body: JSON.stringify({ content_type: 'image/png', file_name: 'holiday photo.png' }),
    }),
  },
  {
    name: 'single signed URL (GET get-signed-url/:id)',
    target: { reqPerSec: 5000 },
    expectStatus: 200,
    request: (ids) => ({
      method: 'GET',
      setupRequest: (req) => ({ ...req, path: `/api/image/v1/download/get-signed-url/${pickDistinct(ids, 1)[0]}` }),
    }),
  },
  {
    name: 'batch of 50 signed URLs (POST get-signed-urls)',
    target: { reqPerSec: 900 },
    expectStatus: 200,
    request: (ids) => ({
      method: 'POST',
      path: '/api/image/v1/download/get-signed-urls',
      headers: json,
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ image_ids: pickDistinct(ids, 50) }) }),
    }),
  },
]

export type LoadOptions = { connections: number; warmupSeconds: number; durationSeconds: number }

/** A warm-up run (JIT, pools, caches; discarded), then the measured run at the same load. */
export async function runHttpScenario(
  baseUrl: string,
  scenario: HttpScenario,
  ids: readonly string[],
  load: LoadOptions,
  pids: { apiPid: number | undefined; postgresPort: number | undefined },
): Promise<HttpResult> {
  const run = (duration: number) =>
    autocannon({ url: baseUrl, connections: load.connections, duration, requests: [scenario.request(ids)] })
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

export function meetsTarget(scenario: HttpScenario, result: HttpResult): boolean {
  const fast = scenario.target.p99Ms === undefined || result.p99Ms <= scenario.target.p99Ms
  return result.reqPerSec >= scenario.target.reqPerSec && fast && result.errors === 0
}

/**
 * Asks once for a signed URL of every image in the working set (batches of 50), so the
 * download scenarios measure the steady state of a signing window (URLs cached) rather
 * than the one-off cost of signing 5,000 URLs, which the notes report separately.
 */
export async function primeSignedUrlCache(baseUrl: string, ids: readonly string[]): Promise<number> {
  const started = performance.now()
  const batches: string[][] = []
  for (let i = 0; i < ids.length; i += 50) batches.push(ids.slice(i, i + 50))
  let next = 0
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]
      const response = await fetch(`${baseUrl}/api/image/v1/download/get-signed-urls`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ image_ids: batch }),
      })
      if (response.status !== 200) throw new Error(`priming the signed URL cache: HTTP ${response.status}`)
      await response.arrayBuffer()
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  return Math.round(performance.now() - started)
}
