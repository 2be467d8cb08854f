import { DURATION_BUCKETS_SECONDS, type MessageProcessedListener, metricLabel, type SweepResult } from '@image-service/foundation'
import { Counter, Histogram, type Registry } from 'prom-client'

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

/**
 * The variants of approved uploads: `image_variants_duration_seconds` (deriving and storing
 * one image's variants) and `image_variant_bytes_total{format}` (bytes written per format).
 */
export function createVariantMetrics(registry: Registry) {
  const duration = new Histogram({
    name: 'image_variants_duration_seconds',
    help: "Time to derive and store one approved upload's variants",
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [registry],
  })
  const bytes = new Counter({
    name: 'image_variant_bytes_total',
    help: 'Bytes of variants stored, by format',
    labelNames: ['format'] as const,
    registers: [registry],
  })
  return (created: { durationMs: number; variants: readonly { format: string; sizeBytes: number }[] }) => {
    duration.observe(created.durationMs / 1000)
    for (const v of created.variants) bytes.inc({ format: v.format }, v.sizeBytes)
  }
}

/**
 * The sweeper's work: `image_sweeps_total{result}` (swept, locked: another replica held the
 * lock), `image_sweep_items_total{item}` (what each sweep did, by SweepReport field),
 * `image_sweep_step_failures_total{step}` and `image_sweep_duration_seconds`.
 */
export function createSweepMetrics(registry: Registry) {
  const sweeps = new Counter({
    name: 'image_sweeps_total',
    help: 'Sweeps, by result',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  const items = new Counter({
    name: 'image_sweep_items_total',
    help: 'What the sweeper did, by item (expired, requeued, multipartAborted, objectsRemoved, recordsPurged, ...)',
    labelNames: ['item'] as const,
    registers: [registry],
  })
  const failures = new Counter({
    name: 'image_sweep_step_failures_total',
    help: 'Sweep steps that failed and were left for the next sweep',
    labelNames: ['step'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'image_sweep_duration_seconds',
    help: 'Duration of a sweep that held the lock',
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [registry],
  })
  return (result: SweepResult) => {
    if (!result.swept) {
      sweeps.inc({ result: result.reason })
      return
    }
    sweeps.inc({ result: 'swept' })
    duration.observe(result.durationMs / 1000)
    for (const [item, count] of Object.entries(result.report)) if (count > 0) items.inc({ item }, count)
    for (const step of result.failedSteps) failures.inc({ step })
  }
}
