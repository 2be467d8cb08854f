import type { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { createMetricsRegistry } from '../../common/metrics.ts'
import { createQueueMetrics, metricLabel } from './queue-metrics.ts'

async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name.replace(/_(count|sum|bucket)$/, ''))?.get()
  const wanted = Object.entries(labels)
  const found = metric?.values.find(
    (v) =>
      ('metricName' in v ? v.metricName : metric.name) === name &&
      wanted.every(([k, l]) => String(v.labels[k]) === l) &&
      Object.keys(v.labels).length === wanted.length,
  )
  return found?.value
}

describe('createQueueMetrics', () => {
  it('counts each delivery and observes its duration, with the retry reason as error_type', async () => {
    const registry = createMetricsRegistry()
    const listener = createQueueMetrics(registry)
    const base = { queue: 'image-uploads', receiveCount: 1, subjects: [], settled: true }
    listener({ ...base, messageId: 'a', outcome: 'ack', durationMs: 40 })
    listener({ ...base, messageId: 'b', outcome: 'ack', durationMs: 3000 })
    listener({ ...base, messageId: 'c', outcome: 'retry', reason: 'DATABASE_UNAVAILABLE', durationMs: 5 })

    const ok = { messaging_system: 'aws_sqs', messaging_destination_name: 'image-uploads', messaging_operation_name: 'process' }
    const retried = { ...ok, error_type: 'DATABASE_UNAVAILABLE' }
    expect(await value(registry, 'messaging_client_consumed_messages_total', ok)).toBe(2)
    expect(await value(registry, 'messaging_client_consumed_messages_total', retried)).toBe(1)
    expect(await value(registry, 'messaging_process_duration_seconds_count', ok)).toBe(2)
    expect(await value(registry, 'messaging_process_duration_seconds_sum', ok)).toBeCloseTo(3.04)
    expect(await value(registry, 'messaging_process_duration_seconds_bucket', { ...ok, le: '0.05' })).toBe(1)
    expect(await value(registry, 'messaging_process_duration_seconds_count', retried)).toBe(1)
  })

  it('keeps free text out of label values', () => {
    expect(metricLabel('too_large')).toBe('too_large')
    expect(metricLabel('the database said no')).toBe('other')
    expect(metricLabel(undefined)).toBe('none')
  })
})
