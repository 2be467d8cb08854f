import { createHash, timingSafeEqual } from 'node:crypto'
import { DURATION_BUCKETS_SECONDS, type MetricsRegistry, type ReadyRecordCacheStats } from '@image-service/foundation'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest, FastifyTypeProvider } from 'fastify'
import { Counter, Gauge, Histogram } from 'prom-client'
import { httpError } from './errors.ts'
import type { AnyFastifyInstance } from './fastify-instance.ts'

export const METRICS_PATH = '/metrics'

/**
 * The route label of requests no route matched. Never the raw path: a client could invent
 * paths without end, and every new label value is a new series kept in memory forever.
 */
export const UNMATCHED_ROUTE = 'unmatched'

// OpenTelemetry's HTTP conventions: a method outside the registered set is reported as _OTHER.
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'])

export type HttpMetrics = ReturnType<typeof createHttpMetrics>

/** The api's HTTP series, registered on the process registry. */
export function createHttpMetrics(registry: MetricsRegistry) {
  const duration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests, by route template',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_code'] as const,
    buckets: DURATION_BUCKETS_SECONDS,
    registers: [registry],
  })
  // Answered by the client error handler, before Fastify sees a request, so never in the histogram.
  const parserRefusals = new Counter({
    name: 'http_server_parser_refusals_total',
    help: 'Requests refused by the HTTP parser before routing (malformed, headers too large, too slow), by error code',
    labelNames: ['code'] as const,
    registers: [registry],
  })
  return {
    registry,
    observeRequest(request: FastifyRequest, reply: FastifyReply): void {
      duration.observe(
        {
          http_request_method: KNOWN_METHODS.has(request.method) ? request.method : '_OTHER',
          http_route: request.routeOptions.url ?? UNMATCHED_ROUTE,
          http_response_status_code: reply.statusCode,
        },
        reply.elapsedTime / 1000,
      )
    },
    countParserRefusal(code: string): void {
      parserRefusals.inc({ code })
    },
  }
}

/**
 * The cache of ready records (shared/image/ready-record-cache.ts), read at each scrape: how
 * many it holds, whether this replica hears of changes (0: it reads every record from the
 * database), and how reads were answered.
 */
export function registerRecordCacheMetrics(registry: MetricsRegistry, stats: () => ReadyRecordCacheStats): void {
  new Gauge({
    name: 'image_record_cache_records',
    help: 'Ready image records this api replica keeps in memory',
    registers: [registry],
    collect() {
      this.set(stats().records)
    },
  })
  new Gauge({
    name: 'image_record_cache_listening',
    help: '1 while this replica hears of changes to ready records (its heartbeat comes back), else 0 and records are read from the database',
    registers: [registry],
    collect() {
      this.set(stats().live ? 1 : 0)
    },
  })
  const counted = { hit: 0, miss: 0 }
  new Counter({
    name: 'image_record_cache_reads_total',
    help: 'Reads of image records by id, answered from memory (hit) or not (miss)',
    labelNames: ['result'] as const,
    registers: [registry],
    collect() {
      const { hits, misses } = stats()
      this.inc({ result: 'hit' }, hits - counted.hit)
      this.inc({ result: 'miss' }, misses - counted.miss)
      counted.hit = hits
      counted.miss = misses
    },
  })
}

/**
 * Records every response (404s and errors included, so register it before the routes) and
 * serves GET /metrics. With a token, /metrics wants `Authorization: Bearer <token>`; without
 * one it is public, for a port the load balancer does not expose. Left out of the OpenAPI
 * document: it is for the scraper, not for API clients.
 */
export function registerHttpMetrics<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: AnyFastifyInstance<L, P>,
  options: { metrics: HttpMetrics; token: string | undefined },
): void {
  const { metrics, token } = options
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request, reply)
  })
  app.get(
    METRICS_PATH,
    { schema: { hide: true }, ...(token === undefined ? {} : { onRequest: requireBearer(token) }) },
    async (_request, reply) => {
      const body = await metrics.registry.metrics()
      return reply.type(metrics.registry.contentType).send(body)
    },
  )
}

/** Compares digests, so neither the token's characters nor its length leak through timing. */
function requireBearer(token: string) {
  const digest = (value: string) => createHash('sha256').update(value).digest()
  const expected = digest(token)
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const presented = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '')?.[1]
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return
    reply.header('www-authenticate', 'Bearer error="invalid_token"')
    throw httpError(401, 'UNAUTHENTICATED', `${METRICS_PATH} needs the metrics bearer token`)
  }
}
