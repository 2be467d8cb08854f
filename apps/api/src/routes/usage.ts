import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ErasureProgress } from '@image-service/foundation'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses, StringEnum, Timestamp } from '../http/schemas.ts'

export const UsageQuery = Type.Object(
  { owner_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Another owner: images:admin only' })) },
  { additionalProperties: false },
)

/** Progress of the owner's latest POST owner/erase; absent when none was asked for. */
export const ErasureResponse = Type.Object(
  {
    status: StringEnum(['running', 'completed'] as const),
    requested_at: Timestamp('RFC 3339, UTC'),
    completed_at: Type.Union([Timestamp('RFC 3339, UTC'), Type.Null()]),
    images_erased: Type.Integer({ minimum: 0 }),
    api_keys_erased: Type.Integer({ minimum: 0 }),
    records_remaining: Type.Integer({ minimum: 0, description: 'Records still to erase or to purge; 0 when completed' }),
    jobs_remaining: Type.Integer({
      minimum: 0,
      description: 'AI jobs still to cancel (at fal too) or to remove, with their events; 0 when completed',
    }),
  },
  { additionalProperties: false },
)

export const UsageResponse = Type.Object(
  {
    images: Type.Integer({ minimum: 0, description: 'Pending and ready images' }),
    bytes: Type.Integer({ minimum: 0, description: 'Real sizes of the ready images' }),
    reserved_bytes: Type.Integer({ minimum: 0, description: 'What pending uploads reserve (declared size, or MAX_UPLOAD_BYTES)' }),
    max_images: Type.Integer({ description: 'QUOTA_MAX_IMAGES' }),
    max_bytes: Type.Integer({ description: 'QUOTA_MAX_BYTES: bytes + reserved_bytes may not pass it' }),
    erasure: Type.Optional(ErasureResponse),
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
        ...(usage.erasure === undefined ? {} : { erasure: erasureBody(usage.erasure) }),
      }
    },
  )
}

export function erasureBody(erasure: ErasureProgress): Static<typeof ErasureResponse> {
  return {
    status: erasure.status,
    requested_at: erasure.requestedAt.toISOString(),
    completed_at: erasure.completedAt?.toISOString() ?? null,
    images_erased: erasure.imagesErased,
    api_keys_erased: erasure.apiKeysErased,
    records_remaining: erasure.recordsRemaining,
    jobs_remaining: erasure.jobsRemaining,
  }
}
