import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ALLOWED_CONTENT_TYPES, IMAGE_STATUSES, parseImageId } from '@image-service/foundation'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses, ImageIdParams, ImageIdSchema, StringEnum, Timestamp } from '../http/schemas.ts'

export const ImageStatusResponse = Type.Object(
  {
    image_id: ImageIdSchema,
    status: StringEnum(IMAGE_STATUSES),
    content_type: StringEnum(ALLOWED_CONTENT_TYPES),
    file_name: Type.String(),
    size_bytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'null until processed' }),
    failure_reason: Type.Union([Type.String(), Type.Null()], {
      description: 'Why a failed upload was refused (too_large, type_mismatch, corrupt, ...); null otherwise',
    }),
    created_at: Timestamp('RFC 3339, UTC'),
    updated_at: Timestamp('RFC 3339, UTC'),
  },
  { additionalProperties: false },
)
export type ImageStatusResponse = Static<typeof ImageStatusResponse>

export const imageRoutes: FastifyPluginAsyncTypebox<{ container: Pick<ApiContainer, 'getImageStatus'> }> = async (
  app,
  { container },
) => {
  app.get(
    '/api/image/v1/images/:image_id',
    {
      schema: {
        tags: ['images'],
        summary: 'Status and metadata of an upload',
        params: ImageIdParams,
        response: { 200: ImageStatusResponse, ...errorResponses(400, 404, 503) },
      },
    },
    async (request): Promise<ImageStatusResponse> => {
      // The params schema has already checked the ULID shape (else 400 INVALID_IMAGE_ID).
      const image = await container.getImageStatus(requestContext(request), parseImageId(request.params.image_id))
      return {
        image_id: image.id,
        status: image.status,
        content_type: image.contentType,
        file_name: image.fileName,
        size_bytes: image.sizeBytes,
        failure_reason: image.failureReason,
        created_at: image.createdAt.toISOString(),
        updated_at: image.updatedAt.toISOString(),
      }
    },
  )
}
