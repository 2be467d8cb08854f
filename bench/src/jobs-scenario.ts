import { PutObjectCommand } from '@aws-sdk/client-s3'
import { createEmulatorS3Client, type DevStack, findFreePort, waitFor } from '@image-service/devstack'
import { readCorpusFile } from '@image-service/devstack/corpus'
import type postgres from 'postgres'
import { startApp } from './app-process.ts'
import { type CpuSplit, startCpuAccounting } from './cpu.ts'
import type { BenchOwner } from './owners.ts'
import type { Seeder } from './seed.ts'

export type JobsResult = {
  jobs: number
  succeeded: number
  /** Start of the first job to the last one final. */
  seconds: number
  /** CPU over that time, the processor (the runner and the validation of each result) first. */
  cpu: CpuSplit
  apiCpuSeconds: number
  /** Job events received on the owners' streams, and their latency from the row's `at` (now() of the writing transaction). */
  events: {
    count: number
    p50Ms: number
    p99Ms: number
    maxMs: number
    byType: Record<string, number>
    /** Job events in the events table. */
    expected: number
    /** Job events in the table that never reached their owner's stream ("type xid-id"). */
    missing: string[]
    /** Of those in the table, how many the control poller (the api's query, polled from here) never saw. */
    controlMissing: number
  }
  pollIntervalMs: number
  jobPollIntervalSeconds: number
  webhookTimeoutSeconds: number
  /** fal webhooks that came before the runner stored the request id (kept, and followed at once). */
  webhooksEarly: number
  concurrency: number
}

// The corpus's 128x128 palette PNG (the processor scenario's): the model's result is as small,
// so validating and deriving each result (also processor CPU) stays a small share of a job.
const SOURCE = 'valid-png-palette-trns-128x128.png'
const JOB_POLL_INTERVAL_SECONDS = 1
// The default: a webhook that comes before the runner stored fal's request id is kept by the
// api and found by the runner (webhooksEarly), so no job waits this long for one.
const FAL_WEBHOOK_TIMEOUT_SECONDS = 120

/**
 * `jobs` AI jobs through the real system: the api and the processor as processes, the fal
 * emulator with no queue delay and no model latency, fal's webhook to the api as in production
 * (PUBLIC_BASE_URL set). One source image per owner goes through the real upload path first;
 * then every owner keeps an event stream open, the jobs are started through the api (10 at a
 * time, owners in turn), and the run ends when every job is final and every one of their events
 * has arrived. The processor's CPU over that span, divided by the jobs, is the runner's cost per
 * job plus the validation and variants of its one result.
 */
export async function runJobsScenario(
  stack: DevStack,
  sql: postgres.Sql,
  options: {
    jobs: number
    owners: readonly BenchOwner[]
    seeder: Seeder
    postgresPort: number | undefined
    pollIntervalMs: number
    env: Record<string, string>
  },
): Promise<JobsResult> {
  const port = await findFreePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const concurrency = 4
  const common = { ...stack.env, ...options.env, LOG_LEVEL: 'warn', JOB_MAX_CONCURRENT_PER_OWNER: String(options.jobs) }
  const api = startApp({
    name: 'api-jobs',
    entry: 'apps/api/src/main.ts',
    env: { ...common, PORT: String(port), DATABASE_POOL_MAX: '3', EVENTS_POLL_INTERVAL_MS: String(options.pollIntervalMs) },
  })
  const processor = startApp({
    name: 'processor-jobs',
    entry: 'apps/processor/src/main.ts',
    env: {
      ...common,
      PROCESSOR_HTTP_PORT: '0',
      PROCESSOR_CONCURRENCY: String(concurrency),
      PUBLIC_BASE_URL: baseUrl,
      JOB_POLL_INTERVAL_SECONDS: String(JOB_POLL_INTERVAL_SECONDS),
      FAL_WEBHOOK_TIMEOUT_SECONDS: String(FAL_WEBHOOK_TIMEOUT_SECONDS),
      // A short long poll, so the scenario after this one finds no receive of ours still pending.
      SQS_WAIT_TIME_SECONDS: '1',
    },
  })
  const s3 = createEmulatorS3Client(stack.s3)
  const streams: AbortController[] = []
  try {
    await api.waitForHttp(`${baseUrl}/api/health/readiness`)
    // One source per owner, validated by the processor like any upload.
    const sources = await options.seeder.pending(
      options.owners.map((o) => o.subject),
      'image/png',
    )
    const body = readCorpusFile(SOURCE)
    await Promise.all(
      sources.map((id) =>
        s3.send(new PutObjectCommand({ Bucket: stack.s3.bucket, Key: `uploads/${id}`, Body: body, ContentType: 'image/png' })),
      ),
    )
    await processor.whileRunning(
      waitFor(
        async () => {
          const [row] = await sql`SELECT count(*)::int AS n FROM image_records WHERE id = ANY(${sources}) AND status = 'ready'`
          return (row?.n as number) === sources.length ? true : undefined
        },
        { timeoutMs: 60_000, intervalMs: 25, description: 'the sources to be ready' },
      ),
      'the sources to be ready',
    )

    const received: { id: string; type: string; subject: string; latencyMs: number; arrivedAt: number }[] = []
    await Promise.all(
      options.owners.map(async (owner) => {
        const abort = new AbortController()
        streams.push(abort)
        await openStream(`${baseUrl}/api/image/v1/events/stream`, owner.authorization, abort.signal, (event, at) => {
          if (event.type.startsWith('job.'))
            received.push({
              id: event.id,
              type: event.type,
              subject: event.subject_id,
              latencyMs: at - Date.parse(event.at),
              arrivedAt: at,
            })
        })
      }),
    )

    const control = await startControlPoller(sql)
    const processorCpu = startCpuAccounting(processor.pid, options.postgresPort)
    const apiCpu = startCpuAccounting(api.pid, undefined)
    const started = performance.now()
    const jobIds: string[] = []
    let next = 0
    const startJobs = async () => {
      while (next < options.jobs) {
        const i = next++
        const owner = options.owners[i % options.owners.length] as BenchOwner
        const response = await fetch(`${baseUrl}/api/image/v1/processing/start`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: owner.authorization },
          body: JSON.stringify({
            image_id: sources[i % options.owners.length],
            workflow_id: 'restyle',
            parameters: { prompt: `a watercolour, take ${i}` },
          }),
        })
        const answer = (await response.json()) as { job_id?: string }
        if (response.status !== 202 || answer.job_id === undefined)
          throw new Error(`processing/start answered ${response.status}: ${JSON.stringify(answer)}`)
        jobIds.push(answer.job_id)
      }
    }
    await processor.whileRunning(Promise.all(Array.from({ length: 10 }, startJobs)), 'the jobs to start')
    await processor.whileRunning(
      waitFor(
        async () => {
          const [row] = await sql`
            SELECT count(*)::int AS n FROM processing_jobs
            WHERE id = ANY(${jobIds}) AND status IN ('succeeded', 'failed', 'cancelled')`
          return (row?.n as number) === jobIds.length ? true : undefined
        },
        { timeoutMs: 180_000, intervalMs: 25, description: 'every job to be final' },
      ),
      'every job to be final',
    )
    const seconds = (performance.now() - started) / 1000
    const cpu = processorCpu()
    const apiSeconds = apiCpu().apiSeconds
    const ids = new Set(jobIds)
    const expected = await sql<{ type: string; n: number }[]>`
      SELECT type, count(*)::int AS n FROM events WHERE subject_id = ANY(${jobIds}) AND type LIKE 'job.%' GROUP BY type`
    const total = expected.reduce((sum, row) => sum + row.n, 0)
    const arrived = () => received.filter((e) => ids.has(e.subject))
    // Not every event may come (see `missing`): wait a while for the last ones, then count.
    await waitFor(async () => (arrived().length >= total ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 25,
      description: "every job event on its owner's stream",
    }).catch(() => undefined)
    await control.stop()
    const rows = await sql<{ position: string; type: string }[]>`
      SELECT xid::text || '-' || id::text AS position, type FROM events WHERE subject_id = ANY(${jobIds}) AND type LIKE 'job.%' ORDER BY xid, id`
    const streamed = new Set(arrived().map((e) => e.id))
    const missing = rows.filter((row) => !streamed.has(row.position)).map((row) => `${row.type} ${row.position}`)
    const controlMissing = rows.filter((row) => !control.seen.has(row.position)).length
    const [outcome] =
      await sql`SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS n FROM processing_jobs WHERE id = ANY(${jobIds})`
    // Webhooks kept without a job: they came before the runner stored the request id.
    const [early] = await sql`
      SELECT count(*)::int AS n FROM fal_webhook_deliveries d JOIN processing_jobs j ON j.provider_request_id = d.request_id
      WHERE j.id = ANY(${jobIds}) AND d.job_id IS NULL`
    const ours = received.filter((e) => ids.has(e.subject))
    const latencies = ours.map((e) => e.latencyMs).sort((a, b) => a - b)
    const at = (q: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 10) / 10
    const byType: Record<string, number> = {}
    for (const e of ours) byType[e.type] = (byType[e.type] ?? 0) + 1
    return {
      jobs: jobIds.length,
      succeeded: outcome?.n as number,
      seconds: Math.round(seconds * 100) / 100,
      cpu,
      apiCpuSeconds: apiSeconds,
      events: { count: latencies.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1), byType, expected: total, missing, controlMissing },
      pollIntervalMs: options.pollIntervalMs,
      jobPollIntervalSeconds: JOB_POLL_INTERVAL_SECONDS,
      webhookTimeoutSeconds: FAL_WEBHOOK_TIMEOUT_SECONDS,
      webhooksEarly: early?.n as number,
      concurrency,
    }
  } finally {
    for (const abort of streams) abort.abort()
    s3.destroy()
    await Promise.all([processor.stop(), api.stop()])
  }
}

type StreamEvent = { id: string; type: string; subject_id: string; at: string }

/** Opens an owner's event stream and resolves once it is live; each event goes to `onEvent` with its arrival time (epoch ms). */
async function openStream(
  url: string,
  authorization: string,
  signal: AbortSignal,
  onEvent: (event: StreamEvent, arrivedAt: number) => void,
): Promise<void> {
  const response = await fetch(url, { headers: { authorization }, signal })
  if (response.status !== 200 || response.body === null) throw new Error(`the event stream answered ${response.status}`)
  const decoder = new TextDecoder()
  let buffer = ''
  let opened: () => void = () => {}
  const ready = new Promise<void>((resolve) => {
    opened = resolve
  })
  void (async () => {
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        const arrivedAt = performance.timeOrigin + performance.now()
        buffer += decoder.decode(chunk, { stream: true })
        let end = buffer.indexOf('\n\n')
        while (end >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          end = buffer.indexOf('\n\n')
          if (block.startsWith('retry:')) opened()
          const data = block.split('\n').find((line) => line.startsWith('data: '))
          if (data !== undefined) onEvent(JSON.parse(data.slice(6)) as StreamEvent, arrivedAt)
        }
      }
    } catch {
      // aborted at the end
    }
  })()
  await ready
}

/**
 * A control for the streams: the api's own visibility-line query, polled from here every 20 ms
 * from the head of the log, keeping every position it sees. An event the streams miss but this
 * sees was lost between the api's poll and the stream; one this misses too, in the query.
 */
async function startControlPoller(sql: postgres.Sql): Promise<{ seen: Set<string>; stop(): Promise<void> }> {
  const seen = new Set<string>()
  const [head] = await sql<{ xid: string; id: string }[]>`
    SELECT xid::text AS xid, id::text AS id FROM events WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid DESC, id DESC LIMIT 1`
  let after = { xid: head?.xid ?? '0', id: head?.id ?? '0' }
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const rows = await sql<{ xid: string; id: string }[]>`
        SELECT xid::text AS xid, id::text AS id FROM events
        WHERE (xid, id) > (${after.xid}::xid8, ${after.id}::bigint) AND xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY xid, id LIMIT 500`
      for (const row of rows) {
        seen.add(`${row.xid}-${row.id}`)
        after = row
      }
      if (rows.length < 500) await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  return {
    seen,
    async stop() {
      // One more look, so what became visible at the end is counted.
      await new Promise((resolve) => setTimeout(resolve, 100))
      stopped = true
      await loop
    },
  }
}
