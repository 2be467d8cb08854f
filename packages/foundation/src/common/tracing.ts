import { type Attributes, context, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { type Instrumentation, registerInstrumentations } from '@opentelemetry/instrumentation'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions'

/** The attribute that follows one image through the api, S3 events and the processor. */
export const IMAGE_ID_ATTRIBUTE = 'image.id'
/** The attribute of a processing job's spans. */
export const JOB_ID_ATTRIBUTE = 'job.id'

/** The tracer our own spans come from: the global provider's, a no-op until one is registered. */
export function tracer(): Tracer {
  return trace.getTracer('image-service')
}

export type Tracing = {
  /** Whether spans go anywhere (false: the API's no-op tracer, nothing is recorded). */
  readonly enabled: boolean
  /** Exports what is buffered and stops; safe to call when tracing is off. */
  shutdown(): Promise<void>
}

export type TracingOptions = {
  serviceName: string
  /** OTLP/HTTP collector base URL (OTEL_EXPORTER_OTLP_ENDPOINT); traces go to `{url}/v1/traces`. */
  otlpEndpoint?: string | undefined
  /** Instead of OTLP (tests: an InMemorySpanExporter); spans are exported one by one as they end. */
  exporter?: SpanExporter
  /** Automatic instrumentations (HTTP, AWS SDK), which patch modules loaded after this call. */
  instrumentations?: Instrumentation[]
}

/**
 * Registers the global tracer provider: OTLP over HTTP when an endpoint is given, the given
 * exporter otherwise, and nothing at all (tracing off, no cost) when neither is.
 */
export function startTracing(options: TracingOptions): Tracing {
  const started = registerProvider(options)
  active = started
  return started
}

let active: Tracing | undefined

/** Exports what the process's tracing still buffers (main.ts, on shutdown); nothing when off. */
export async function shutdownTracing(): Promise<void> {
  const current = active
  active = undefined
  await current?.shutdown()
}

function registerProvider(options: TracingOptions): Tracing {
  const exporter = options.exporter ?? (options.otlpEndpoint === undefined ? undefined : otlpExporter(options.otlpEndpoint))
  if (exporter === undefined) return { enabled: false, shutdown: async () => {} }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    spanProcessors: [options.exporter === undefined ? new BatchSpanProcessor(exporter) : new SimpleSpanProcessor(exporter)],
  })
  provider.register()
  const unregister = registerInstrumentations({ tracerProvider: provider, instrumentations: options.instrumentations ?? [] })
  return {
    enabled: true,
    async shutdown() {
      unregister()
      await provider.shutdown()
    },
  }
}

function otlpExporter(endpoint: string): SpanExporter {
  return new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` })
}

/** Sets the image id on the span of whatever is running now (an HTTP request, a message). */
export function traceImage(id: string | readonly string[]): void {
  const span = trace.getActiveSpan()
  if (span === undefined) return
  if (typeof id === 'string') span.setAttribute(IMAGE_ID_ATTRIBUTE, id)
  else span.setAttribute(`${IMAGE_ID_ATTRIBUTE}s`, [...id])
}

/**
 * Runs `work` in a new active span, ended when it settles; a throw marks the span as an
 * error (and is rethrown). `describe` adds attributes from the result before the span ends.
 */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; describe?: (result: T, span: Span) => void },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {} })
  try {
    const result = await context.with(trace.setSpan(context.active(), span), () => work(span))
    options.describe?.(result, span)
    return result
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error))
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) })
    throw error
  } finally {
    span.end()
  }
}

export { SpanKind }
