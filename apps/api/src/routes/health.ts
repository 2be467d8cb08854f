import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ApiContainer } from '../container.ts'
import { errorResponses } from '../http/schemas.ts'

export const HealthResponse = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false })
export type HealthResponse = Static<typeof HealthResponse>

/** Liveness: the process answers. Readiness: it can serve, i.e. the database answers. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ container: Pick<ApiContainer, 'ping'> }> = async (app, { container }) => {
  app.get(
    '/api/health/liveness',
    { schema: { tags: ['health'], security: [], summary: 'The process is alive', response: { 200: HealthResponse, ...errorResponses() } } },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/api/health/readiness',
    {
      schema: {
        tags: ['health'],
        security: [],
        summary: 'The API can serve requests (the database answers)',
        response: { 200: HealthResponse, ...errorResponses(503) },
      },
    },
    async () => {
      await container.ping() // throws DATABASE_UNAVAILABLE -> 503
      return { status: 'ok' as const }
    },
  )
}
