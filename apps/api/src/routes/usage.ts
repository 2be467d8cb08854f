import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses } from '../http/schemas.ts'

export const UsageQuery = Type.Object(
  { owner_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Another owner: images:admin only' })) },
  { additionalProperties: false },
)

export const UsageResponse = Type.Object(
  {
    images: Type.Integer({ minimum: 0, description: 'Pending and ready images' }),
    bytes: Type.Integer({ minimum: 0, description: 'Real sizes of the ready images' }),
    reserved_bytes: Type.Integer({ minimum: 0, description: 'What pending uploads reserve (declared size, or MAX_UPLOAD_BYTES)' }),
    max_images: Type.Integer({ description: 'QUOTA_MAX_IMAGES' }),
    max_bytes: Type.Integer({ description: 'QUOTA_MAX_BYTES: bytes + reserved_bytes may not pass it' }),
  },
  { title: 'Usage', additionalProperties: false },
)
export type UsageResponse = Static<typeof UsageResponse>

export const usageRoutes: FastifyPluginAsyncTypebox<{ container: Pick<ApiContainer, 'getUsage'> }> = async (app, { container }) => {
  app.get(
    '/api/image/v1/usage',
    {
      schema: {
        tags: ['images'],
        summary: "The caller's usage against the quota",
        querystring: UsageQuery,
        response: { 200: UsageResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request): Promise<UsageResponse> => {
      const usage = await container.getUsage(requestContext(request), { ownerId: request.query.owner_id })
      return {
        images: usage.images,
        bytes: usage.bytes,
        reserved_bytes: usage.reservedBytes,
        max_images: usage.maxImages,
        max_bytes: usage.maxBytes,
      }
    },
  )
}
