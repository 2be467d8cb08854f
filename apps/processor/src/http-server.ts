import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isAppError, type Logger, type MetricsRegistry } from '@image-service/foundation'

/** A dependency readiness depends on; `check` throws (a DependencyUnavailableError) when it cannot be reached. */
export type ReadinessCheck = { name: string; check: () => Promise<void> }

export type ProcessorHttpServer = {
  /** Port 0 picks a free one; the answer says which. */
  listen(host: string, port: number): Promise<{ url: string; port: number }>
  close(): Promise<void>
}

/**
 * The processor's small HTTP side: `/metrics` (Prometheus; bearer METRICS_TOKEN when set),
 * `/health/liveness` (the process answers) and `/health/readiness` (every check answered
 * within `checkTimeoutMs`). node:http is enough for three GET routes.
 */
export function createProcessorHttpServer(deps: {
  registry: MetricsRegistry
  metricsToken: string | undefined
  checks: ReadinessCheck[]
  log: Logger
  checkTimeoutMs?: number
}): ProcessorHttpServer {
  const checkTimeoutMs = deps.checkTimeoutMs ?? 2000
  const expectedToken = deps.metricsToken === undefined ? undefined : digest(deps.metricsToken)

  async function readiness(res: ServerResponse): Promise<void> {
    const results = await Promise.all(
      deps.checks.map(async ({ name, check }) => {
        try {
          await withTimeout(check(), checkTimeoutMs)
          return [name, 'ok'] as const
        } catch (error) {
          const code = error instanceof CheckTimeout ? 'TIMEOUT' : isAppError(error) ? error.code : 'UNAVAILABLE'
          deps.log.warn({ check: name, code, err: error }, 'readiness check failed')
          return [name, code] as const
        }
      }),
    )
    const ready = results.every(([, state]) => state === 'ok')
    json(res, ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', checks: Object.fromEntries(results) })
  }

  async function metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (expectedToken !== undefined && !bearerMatches(req.headers.authorization, expectedToken)) {
      res.setHeader('WWW-Authenticate', 'Bearer')
      return json(res, 401, {
        statusCode: 401,
        error: 'Unauthorized',
        code: 'UNAUTHENTICATED',
        message: 'GET /metrics needs the metrics bearer token',
      })
    }
    const text = await deps.registry.metrics()
    res.writeHead(200, { 'content-type': deps.registry.contentType })
    res.end(text)
  }

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void> | void> = {
    '/metrics': metrics,
    '/health/liveness': (_req, res) => json(res, 200, { status: 'ok' }),
    '/health/readiness': (_req, res) => readiness(res),
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const route = routes[path]
    if (route === undefined) return json(res, 404, { statusCode: 404, error: 'Not Found', code: 'NOT_FOUND', message: `no route ${path}` })
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      return json(res, 405, { statusCode: 405, error: 'Method Not Allowed', code: 'METHOD_NOT_ALLOWED', message: `${req.method} ${path}` })
    }
    Promise.resolve(route(req, res)).catch((error: unknown) => {
      deps.log.error({ err: error, path }, 'processor http route failed')
      if (!res.headersSent) json(res, 500, { statusCode: 500, error: 'Internal Server Error', code: 'INTERNAL', message: 'internal error' })
    })
  })
  // Probes and scrapes are small: a slow or idle client is cut off rather than held.
  server.requestTimeout = 10_000
  server.headersTimeout = 5_000
  server.keepAliveTimeout = 5_000

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          const bound = (server.address() as AddressInfo).port
          resolve({ url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`, port: bound })
        })
      })
    },
    close() {
      if (!server.listening) return Promise.resolve()
      return new Promise((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      })
    },
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
  res.end(text)
}

/** Hashing first makes the comparison constant-time whatever the lengths. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer (.+)$/i.exec(header ?? '')
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected)
}

class CheckTimeout extends Error {}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
