/**
 * Tracing for an app process, loaded before the app with `node --import` (the Dockerfiles do):
 * `node --import ./packages/foundation/src/tracing-preload.ts apps/api/src/main.ts`.
 *
 * It does nothing unless OTEL_EXPORTER_OTLP_ENDPOINT is set. When it is, it registers the
 * global tracer provider (OTLP over HTTP, `{endpoint}/v1/traces`) and the HTTP and AWS SDK
 * instrumentations. These patch modules as they load, which is why this runs first: ESM
 * imports are seen only through the loader hook registered here, and the SDK's CommonJS
 * modules only when they are required after the instrumentation exists. The apps' own spans
 * (@fastify/otel's request spans, one span per queue message) need none of this, only the
 * provider, and main.ts flushes it on shutdown (shutdownTracing).
 */
import { register } from 'node:module'

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
if (endpoint !== undefined && endpoint !== '') {
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url)
  const [{ HttpInstrumentation }, { AwsInstrumentation }, { startTracing }] = await Promise.all([
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-aws-sdk'),
    import('./common/tracing.ts'),
  ])
  const app = (process.argv[1] ?? '').includes('processor') ? 'processor' : 'api'
  startTracing({
    serviceName: process.env.OTEL_SERVICE_NAME || `image-service-${app}`,
    otlpEndpoint: endpoint,
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => isProbe(request.url ?? '') }),
      new AwsInstrumentation(),
    ],
  })
}

function isProbe(url: string): boolean {
  return url === '/metrics' || url.startsWith('/api/health/') || url.startsWith('/health/')
}
