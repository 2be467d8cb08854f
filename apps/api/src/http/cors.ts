import cors from '@fastify/cors'
import type { FastifyBaseLogger, FastifyTypeProvider } from 'fastify'
import type { AnyFastifyInstance } from './fastify-instance.ts'
import { REQUEST_ID_HEADER } from './request-id.ts'

/**
 * CORS from config.api.http.corsOrigins: `*` lets any origin in (development), an empty list
 * sends no CORS headers at all (same-origin or server-to-server use), anything else is an
 * exact allowlist. No credentials: the API uses no cookies.
 */
export async function registerCors<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(app: AnyFastifyInstance<L, P>, corsOrigins: readonly string[]): Promise<void> {
  if (corsOrigins.length === 0) return
  await app.register(cors, {
    origin: corsOrigins.includes('*') ? '*' : [...corsOrigins],
    methods: ['GET', 'POST'],
    allowedHeaders: ['content-type', REQUEST_ID_HEADER],
    exposedHeaders: [REQUEST_ID_HEADER],
    maxAge: 600,
  })
}
