import { describe, expect, it } from 'vitest'
import { type HttpResult, httpScenarios, referenceScenarios } from './http-scenarios.ts'
import { type HttpRow, ratioMet, ratioRows, renderRatioTable, renderReport } from './report.ts'

const result = (reqPerSec: number): HttpResult => ({
  reqPerSec,
  p50Ms: 5,
  p99Ms: 20,
  errors: 0,
  requests: reqPerSec * 10,
  cpu: { apiSeconds: 1, postgresSeconds: 0, benchSeconds: 0.5, otherSeconds: 0, wallSeconds: 10 },
})
const [ceiling, naive] = referenceScenarios
const [presign, single] = httpScenarios
if (!ceiling || !naive || !presign || !single) throw new Error('scenarios missing')

const render = (http: HttpRow[]) =>
  renderReport({
    machine: { cpuModel: 'cpu', cpuCount: 2, memoryGiB: 1, os: 'os', node: 'v24', date: 'today' },
    load: { connections: 50, warmupSeconds: 3, durationSeconds: 10 },
    loadAverage: { before: 0.1, after: 1 },
    owners: 8,
    http,
    answerBytes: { ceiling: 400, naive: 400, presign: 401 },
    primeMs: {},
    processor: undefined,
    processorTarget: 300,
    notes: 'the notes',
  })

describe('docs/benchmarks.md', () => {
  const text = render([
    { scenario: ceiling, logLevel: undefined, result: result(16000), met: undefined },
    { scenario: naive, logLevel: undefined, result: result(4000), met: undefined },
    { scenario: presign, logLevel: 'warn', result: result(2400), met: false },
    { scenario: single, logLevel: 'warn', result: result(5200), met: true },
  ])
  const row = (name: string) =>
    text
      .split('\n')
      .find((line) => line.startsWith(`| ${name} |`))
      ?.split(' | ')

  it("gives every row its share of the ceiling's req/s, the references included", () => {
    expect(row(ceiling.name)?.slice(1, 4)).toEqual(['-', '16000', '100%'])
    expect(row(naive.name)?.slice(1, 4)).toEqual(['-', '4000', '25%'])
    expect(row(presign.name)?.slice(1, 4)).toEqual(['warn', '2400', '15%'])
    expect(row(single.name)?.slice(1, 4)).toEqual(['warn', '5200', '33%'])
  })

  it('says no target for a reference, and whether a scenario met its own', () => {
    expect(row(ceiling.name)?.slice(7, 9)).toEqual(['-', '-'])
    expect(row(presign.name)?.slice(7, 9)).toEqual(['>= 3500 req/s, p99 <= 50 ms', 'no'])
  })

  it('gives presign as a ratio of the naive reference, and the answer sizes', () => {
    expect(text).toContain('2400 / 4000 = 0.60 at warn')
    expect(text).toContain('Answer bodies: ceiling 400 B, naive 400 B, presign 401 B.')
  })

  it('leaves the share out when the ceiling was not measured', () => {
    const without = render([{ scenario: presign, logLevel: 'warn', result: result(2400), met: false }])
    expect(
      without
        .split('\n')
        .find((line) => line.startsWith(`| ${presign.name} |`))
        ?.split(' | ')[3],
    ).toBe('-')
  })
})

describe('the ratio table', () => {
  const timing = (medianMs: number) => ({ medianMs, medianCpuMs: medianMs, runs: 15 })
  const report = {
    machine: { cpuModel: 'cpu', cpuCount: 2, memoryGiB: 1, os: 'os', node: 'v24', date: 'today' },
    load: { connections: 50, warmupSeconds: 3, durationSeconds: 10 },
    loadAverage: { before: 0.1, after: 1 },
    owners: 8,
    http: [
      { scenario: ceiling, logLevel: undefined, result: result(16000), met: undefined },
      { scenario: naive, logLevel: undefined, result: result(4000), met: undefined },
      { scenario: presign, logLevel: 'warn', result: result(8000), met: true },
      { scenario: single, logLevel: 'warn', result: result(5200), met: true },
    ],
    answerBytes: {},
    primeMs: {},
    processor: {
      count: 1000,
      perSecond: 100,
      steadyPerSecond: 110,
      seconds: 10,
      failed: 0,
      concurrency: 16,
      cpu: { apiSeconds: 5, postgresSeconds: 1, benchSeconds: 3, otherSeconds: 0, wallSeconds: 10 },
    },
    processorTarget: 300,
    variants: {
      photo: { file: 'photo.jpg', derive: timing(80), naive: timing(160), naiveSameSettings: timing(100) },
      rss: { concurrency: 4, derivations: 16, maxRssMb: 500, idleMaxRssMb: 380, oneAtATimeMaxRssMb: 400 },
      animation: {
        frames: 1000,
        width: 400,
        height: 400,
        bytes: 500_000,
        keptFrames: 50,
        animation: timing(480),
        smallPng: timing(15),
        smallPngAlone: timing(8),
      },
      loadAverage: { before: 1, after: 2 },
    },
    notes: '',
  }
  const rows = ratioRows(report)
  const find = (start: string) => rows.find((row) => row.name.startsWith(start))

  it("holds every ratio of the run with the performance issue's target where it has one", () => {
    expect(find('presign [warn]: share')).toMatchObject({ value: 50, unit: '%', target: { op: '>=', value: 40 } })
    expect(find('single [warn]: share')).toMatchObject({ value: 32.5, target: { op: '>=', value: 55 } })
    expect(find('presign [warn]: req/s over the naive')).toMatchObject({ value: 2, target: { op: '>=', value: 2 } })
    expect(find('processor')).toMatchObject({ value: 5, unit: 'ms', target: { op: '<=', value: 2 } })
    expect(find('variants: 12 MP')).toMatchObject({ value: 0.5, target: { op: '<=', value: 0.65 } })
    expect(find('variants: the same')).toMatchObject({ value: 0.8, target: undefined })
    expect(find('variants: a 1000-frame')).toMatchObject({ value: 60 })
    expect(rows.some((row) => row.name.startsWith('ceiling') || row.name.startsWith('naive'))).toBe(false)
  })

  it('says pass, miss, or nothing when there is no target', () => {
    const table = renderRatioTable(rows)
    const line = (start: string) => table.find((l) => l.startsWith(`| ${start}`))?.split(' | ')
    expect(line('presign [warn]: share')?.slice(1)).toEqual(['50%', '>= 40%', 'pass |'])
    expect(line('single [warn]: share')?.slice(1)).toEqual(['32.5%', '>= 55%', 'miss |'])
    expect(line('processor')?.slice(1)).toEqual(['5 ms', '<= 2 ms', 'miss |'])
    expect(line('variants: 12 MP')?.slice(1)).toEqual(['0.5x', '<= 0.65x', 'pass |'])
    expect(line('variants: the same')?.slice(1)).toEqual(['0.8x', '-', '- |'])
    expect(ratioMet({ name: 'edge', value: 0.65, unit: 'x', target: { op: '<=', value: 0.65 } })).toBe(true)
  })

  it('is in docs/benchmarks.md with the variants figures', () => {
    const text = renderReport(report)
    expect(text).toContain('### Ratios of this run')
    expect(text).toContain(renderRatioTable(rows).join('\n'))
    expect(text).toContain('Peak RSS')
    expect(text).toContain('500 MB at 4 at a time')
  })
})

describe('the jobs section', () => {
  const text = renderReport({
    machine: { cpuModel: 'cpu', cpuCount: 2, memoryGiB: 1, os: 'os', node: 'v24', date: 'today' },
    load: { connections: 50, warmupSeconds: 3, durationSeconds: 10 },
    loadAverage: { before: 0.1, after: 1 },
    owners: 8,
    http: [],
    answerBytes: {},
    primeMs: {},
    processor: undefined,
    processorTarget: 300,
    jobs: {
      jobs: 100,
      succeeded: 100,
      seconds: 8,
      cpu: { apiSeconds: 4, postgresSeconds: 1.5, benchSeconds: 3, otherSeconds: 0, wallSeconds: 8 },
      apiCpuSeconds: 0.9,
      events: {
        count: 299,
        p50Ms: 80,
        p99Ms: 250,
        maxMs: 300,
        byType: { 'job.queued': 99, 'job.running': 100, 'job.succeeded': 100 },
        expected: 300,
        missing: ['job.queued 996-120'],
        controlMissing: 0,
      },
      pollIntervalMs: 100,
      jobPollIntervalSeconds: 1,
      webhookTimeoutSeconds: 2,
      webhooksEarly: 3,
      concurrency: 4,
    },
    notes: '',
  })

  it('gives CPU per job, the SSE latency, the events that never came and the webhooks that came early', () => {
    expect(text).toContain('CPU per job: processor 40 ms')
    expect(text).toContain('api 9 ms, PostgreSQL 15 ms')
    expect(text).toContain('p50 80 ms, p99 250 ms, max 300 ms over 299 events (99 job.queued, 100 job.running, 100 job.succeeded)')
    expect(text).toContain('1 of 300 (job.queued 996-120); the api')
    expect(text).toContain('missed 0')
    expect(text).toContain('3 of 100')
  })
})

describe('the S3 calls figures', () => {
  const report = {
    machine: { cpuModel: 'cpu', cpuCount: 2, memoryGiB: 1, os: 'os', node: 'v24', date: 'today' },
    load: { connections: 50, warmupSeconds: 3, durationSeconds: 10 },
    loadAverage: { before: 0.1, after: 1 },
    owners: 8,
    http: [],
    answerBytes: { ceiling: 400, naive: 400, presign: 401 },
    primeMs: {},
    processor: undefined,
    processorTarget: 300,
    notes: 'the notes',
    s3Calls: {
      calls: 300,
      rounds: 5,
      cpuUs: { sdkGet: 1000, directGet: 400, sdkPut: 1200, directPut: 600, sdkDelete: 800, directDelete: 200 },
    },
  }

  it('gives each call as the direct path over the SDK client, with no target', () => {
    const rows = ratioRows(report)
    expect(rows.find((r) => r.name.startsWith('S3 ranged GET'))).toMatchObject({ value: 0.4, unit: 'x', target: undefined })
    expect(rows.find((r) => r.name.startsWith('S3 PUT'))).toMatchObject({ value: 0.5, unit: 'x', target: undefined })
    expect(rows.find((r) => r.name.startsWith('SQS DeleteMessage'))).toMatchObject({ value: 0.25, unit: 'x', target: undefined })
  })

  it('writes the six figures in docs/benchmarks.md', () => {
    const rendered = renderReport(report)
    expect(rendered).toContain("ranged GET of 4,100 bytes 1000 us through the SDK's S3Client, 400 us through createS3ObjectRequests")
    expect(rendered).toContain("SQS DeleteMessage 800 us through the SDK's SQSClient, 200 us through createSqsMessageDeletes")
  })
})
