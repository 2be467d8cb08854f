import { type MessageProcessedListener, metricLabel } from '@image-service/foundation'
import { Counter, type Registry } from 'prom-client'

/**
 * `image_validations_total{outcome,reason}`: one per record of the uploads queue (`ready`,
 * `failed` + failure reason, `skipped` + status, `ignored` + why, `retry` + code). Messaging
 * metrics (durations, deliveries) come from foundation's createQueueMetrics.
 */
export function createValidationMetrics(registry: Registry) {
  const validations = new Counter({
    name: 'image_validations_total',
    help: 'Upload records handled by the processor, by outcome and reason',
    labelNames: ['outcome', 'reason'] as const,
    registers: [registry],
  })
  const listener: MessageProcessedListener = (event) => {
    for (const subject of event.subjects) validations.inc({ outcome: subject.outcome, reason: metricLabel(subject.reason) })
  }
  return {
    listener,
    /** Counts by outcome since start, e.g. `{ ready: 12, failed: 1 }`: the shutdown log line. */
    async totals(): Promise<Record<string, number>> {
      const totals: Record<string, number> = {}
      for (const { labels, value } of (await validations.get()).values) {
        const outcome = String(labels.outcome)
        totals[outcome] = (totals[outcome] ?? 0) + value
      }
      return totals
    },
  }
}

export type ValidationMetrics = ReturnType<typeof createValidationMetrics>
