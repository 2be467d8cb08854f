import cors from '@fastify/cors'
import type { FastifyBaseLogger, FastifyTypeProvider } from 'fastify'
import type { AnyFastifyInstance } from './fastify-instance.ts'
import { REQUEST_ID_HEADER } from './request-id.ts'

/**
 * CORS from config.api.http.corsOrigins: `*` lets any origin in (development), an empty list
 * sends no CORS headers at all (same-origin or server-to-server use), anything else is an
 * exact allowlist. No credentials mode: the API takes bearer tokens, never cookies.
 */
export async function registerCors<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: AnyFastifyInstance<L, P>,
  corsOrigins: readonly string[],
): Promise<void> {
  if (corsOrigins.length === 0) return
  await app.register(cors, {
    origin: corsOrigins.includes('*') ? '*' : [...corsOrigins],
    // Every method the routes use; the bearer credential; what a client needs to read back
    // (its request id, rate-limit state, why a credential was refused).
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'last-event-id', REQUEST_ID_HEADER],
    exposedHeaders: [
      REQUEST_ID_HEADER,
      'retry-after',
      'ratelimit-limit',
      'ratelimit-remaining',
      'ratelimit-reset',
      'ratelimit-policy',
      'www-authenticate',
    ],
    maxAge: 600,
  })
}
