import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses } from '../http/schemas.ts'
import { ErasureResponse, erasureBody } from './usage.ts'

/** `owner/erase`: everything of the caller goes, in the background (the sweeper); `usage` shows the progress. */
export const ownerEraseRoutes: FastifyPluginAsyncTypebox<{ container: Pick<ApiContainer, 'requestOwnerErasure'> }> = async (
  app,
  { container },
) => {
  app.post(
    '/api/image/v1/owner/erase',
    {
      schema: {
        tags: ['images'],
        summary: 'Erase every image, variant, result, AI job and API key of the caller, in the background; GET usage shows the progress',
        response: { 202: ErasureResponse, ...errorResponses(401, 503) },
      },
    },
    async (request, reply) => {
      const progress = await container.requestOwnerErasure(requestContext(request))
      return reply.code(202).send(erasureBody(progress))
    },
  )
}
