import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { type ApiConfig, createMetricsRegistry, type Logger } from '@image-service/foundation'
import Fastify from 'fastify'
import type { ApiContainer } from './container.ts'
import { accountsRoutes } from './accounts/index.ts'
import { registerAuthentication } from './http/authentication.ts'
import { createClientErrorHandler } from './http/client-errors.ts'
import { registerErrorHandling } from './http/errors.ts'
import { createHttpMetrics, registerHttpMetrics, registerRecordCacheMetrics } from './http/metrics.ts'
import { registerHttpMiddleware, requestIdServerOptions } from './http/middleware.ts'
import { registerRateLimit } from './http/rate-limit.ts'
import { requestLogController } from './http/request-log.ts'
import { registerTracing } from './http/tracing.ts'
import { serverOptions } from './http/server-options.ts'
import { apiKeyRoutes } from './routes/api-keys.ts'
import { downloadRoutes } from './routes/download.ts'
import { healthRoutes } from './routes/health.ts'
import { imageRoutes } from './routes/images.ts'
import { usageRoutes } from './routes/usage.ts'
import { auditRoutes } from './routes/audit.ts'
import { eventRoutes } from './routes/events.ts'
import { uploadRoutes } from './routes/upload.ts'
import { multipartRoutes } from './routes/multipart.ts'
import { confirmRoutes } from './routes/confirm.ts'
import { ownerEraseRoutes } from './routes/owner-erase.ts'
import { falWebhookRoutes } from './routes/fal-webhook.ts'
import { processingRoutes } from './routes/processing.ts'

// Requests carry a file name and a few ids, never image bytes (those go straight to storage).
const BODY_LIMIT_BYTES = 16 * 1024

/** The HTTP app, without listening: main.ts listens, tests use inject(). */
export async function buildApp(deps: {
  container: ApiContainer
  config: ApiConfig
  logger: Logger
  /** Request spans on the global tracer provider; on when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  tracing?: boolean
}) {
  const { container } = deps
  // One registry per app, which main.ts builds once per process.
  const metrics = createHttpMetrics(createMetricsRegistry())
  if (container.recordCacheStats !== undefined) registerRecordCacheMetrics(metrics.registry, container.recordCacheStats)
  const { requestTimeoutSeconds } = deps.config.api.http
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: requestLogController(),
    ...requestIdServerOptions,
    ...serverOptions({ requestTimeoutSeconds }),
    clientErrorHandler: createClientErrorHandler({
      log: deps.logger,
      requestTimeoutSeconds,
      onRefused: (code) => metrics.countParserRefusal(code),
    }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Whose X-Forwarded-For gives request.ip, which rate limits and logs use.
    trustProxy: deps.config.api.http.trustProxy,
    ajv: {
      // Unknown fields are refused (additionalProperties: false), never silently dropped;
      // no type coercion, so `"file_name": 5` is a 400 rather than the name "5".
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // First, so the request span covers every hook after it.
  await registerTracing(app, { enabled: deps.tracing ?? deps.config.telemetry.otlpEndpoint !== undefined })
  registerErrorHandling(app)
  // JSON only: any other body (text/plain included, which Fastify parses by default) is a 415.
  app.removeContentTypeParser('text/plain')

  await registerHttpMiddleware(app, { corsOrigins: deps.config.api.http.corsOrigins })
  registerHttpMetrics(app, { metrics, token: deps.config.api.http.metricsToken })
  // Before authentication, whose refusals it counts, and before every limited route.
  await registerRateLimit(app, { ...deps.config.api.rateLimit, redis: container.rateLimitRedis })
  registerAuthentication(app, container.authenticate, container.authenticateQueryToken)

  // Registered before the routes, so it sees every route's schema.
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Image service API', version: '1.0.0', description: 'Presigned uploads and signed downloads of images' },
      // Every /api/image/* route takes a JWT of a trusted issuer or an API key (isk_…) as a bearer token.
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'A JWT of a trusted issuer, or an API key (isk_…)' },
        },
      },
      security: [{ bearerAuth: [] }],
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger())

  await app.register(healthRoutes, { container })
  await app.register(uploadRoutes, { container })
  await app.register(multipartRoutes, { container })
  await app.register(confirmRoutes, { container })
  await app.register(ownerEraseRoutes, { container })
  await app.register(imageRoutes, { container })
  await app.register(usageRoutes, { container })
  await app.register(auditRoutes, { container })
  await app.register(downloadRoutes, { container })
  await app.register(apiKeyRoutes, { container })
  await app.register(eventRoutes, { container, heartbeatSeconds: deps.config.api.events.heartbeatSeconds })
  await app.register(processingRoutes, { container })
  await app.register(falWebhookRoutes, { container })
  if (container.accounts !== undefined) await app.register(accountsRoutes, { accounts: container.accounts })

  return app
}

export type ApiApp = Awaited<ReturnType<typeof buildApp>>
