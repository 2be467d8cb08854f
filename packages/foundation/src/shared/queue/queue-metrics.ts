import { Counter, Histogram, type Registry } from 'prom-client'
import { DURATION_BUCKETS_SECONDS } from '../../common/metrics.ts'
import type { MessageProcessedListener } from './message.ts'

const LABELS = ['messaging_system', 'messaging_destination_name', 'messaging_operation_name', 'error_type'] as const

/**
 * OpenTelemetry's messaging metrics in Prometheus form, fed by the "message processed" event:
 * `messaging_process_duration_seconds` (handling time of one delivery) and
 * `messaging_client_consumed_messages_total` (deliveries). `error_type` is set when the
 * message was left for retry: the retry's reason code.
 */
export function createQueueMetrics(registry: Registry): MessageProcessedListener {
  const duration = new Histogram({
    name: 'messaging_process_duration_seconds',
    help: 'Time to handle one delivered message, until it is deleted or left for retry',
    labelNames: LABELS,
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [registry],
  })
  const consumed = new Counter({
    name: 'messaging_client_consumed_messages_total',
    help: 'Messages delivered to a handler (each redelivery counts again)',
    labelNames: LABELS,
    registers: [registry],
  })
  return (event) => {
    const labels = {
      messaging_system: 'aws_sqs',
      messaging_destination_name: event.queue,
      messaging_operation_name: 'process',
      ...(event.outcome === 'retry' ? { error_type: metricLabel(event.reason) } : {}),
    }
    duration.observe(labels, event.durationMs / 1000)
    consumed.inc(labels)
  }
}

/** A code as a label value; anything that looks like free text collapses to `other`. */
export function metricLabel(value: string | undefined): string {
  if (value === undefined) return 'none'
  return /^[A-Za-z0-9_:.-]{1,64}$/.test(value) ? value : 'other'
}
