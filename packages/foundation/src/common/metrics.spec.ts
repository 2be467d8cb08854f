import { Counter } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { createMetricsRegistry } from './metrics.ts'

describe('createMetricsRegistry', () => {
  it('exposes the default process metrics, and registries do not share series', async () => {
    const a = createMetricsRegistry()
    const b = createMetricsRegistry()
    new Counter({ name: 'only_in_a_total', help: 'spec', registers: [a] }).inc()
    const text = await a.metrics()
    expect(text).toContain('process_cpu_seconds_total')
    expect(text).toContain('nodejs_eventloop_lag_seconds')
    expect(text).toContain('only_in_a_total 1')
    expect(await b.metrics()).not.toContain('only_in_a_total')
  })
})
