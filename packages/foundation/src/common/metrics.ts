import { collectDefaultMetrics, Registry } from 'prom-client'

export type { Registry as MetricsRegistry } from 'prom-client'

/** OpenTelemetry's recommended buckets for request and processing durations, in seconds. */
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

/**
 * One Prometheus registry per process (never prom-client's global one, so tests can build
 * several apps side by side), with the default process and Node.js metrics.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return registry
}
