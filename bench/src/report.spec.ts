import { describe, expect, it } from 'vitest'
import { type HttpResult, httpScenarios, referenceScenarios } from './http-scenarios.ts'
import { type HttpRow, renderReport } from './report.ts'

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
