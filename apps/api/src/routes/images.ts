import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  ALLOWED_CONTENT_TYPES,
  type Actor,
  IMAGE_STATUSES,
  IMAGE_VARIANT_FORMATS,
  type ImageRecord,
  LABEL_KEY_PATTERN,
  MAX_PAGE_SIZE,
  parseImageId,
  parseLabels,
  REMOVED_METADATA,
} from '@image-service/foundation'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses, ImageIdParams, ImageIdSchema, StringEnum, Timestamp } from '../http/schemas.ts'

export const ImageResponse = Type.Object(
  {
    image_id: ImageIdSchema,
    owner_id: Type.Optional(Type.String({ description: 'Only for images:admin callers' })),
    status: StringEnum(IMAGE_STATUSES),
    content_type: StringEnum(ALLOWED_CONTENT_TYPES),
    file_name: Type.String(),
    size_bytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'null until processed' }),
    width: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      description: 'The original as displayed (after EXIF rotation); null until ready',
    }),
    height: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      description: 'The original as displayed (after EXIF rotation); null until ready',
    }),
    failure_reason: Type.Union([Type.String(), Type.Null()], {
      description: 'Why a failed upload was refused (too_large, type_mismatch, corrupt, ...); null otherwise',
    }),
    variants: Type.Array(
      Type.Object(
        {
          name: Type.String({ description: 'A configured size (VARIANTS), e.g. thumbnail' }),
          format: StringEnum(IMAGE_VARIANT_FORMATS),
          width: Type.Integer({ minimum: 1 }),
          height: Type.Integer({ minimum: 1 }),
          size_bytes: Type.Integer({ minimum: 1 }),
        },
        { title: 'Variant', additionalProperties: false },
      ),
      { description: 'Derived sizes (auto-rotated, metadata removed, sRGB); empty until ready' },
    ),
    placeholder: Type.Union([Type.String(), Type.Null()], {
      description: 'ThumbHash (base64) to paint before the image loads; null until ready',
    }),
    metadata_removed: Type.Array(StringEnum(REMOVED_METADATA), {
      description: 'What the original carried that no variant does (exif, gps, xmp, iptc, comment)',
    }),
    labels: Type.Object({}, { additionalProperties: Type.String(), description: 'The key/value strings given at issuance' }),
    source_image_id: Type.Union([ImageIdSchema, Type.Null()], { description: 'For a derived image (an AI result): its source' }),
    job_id: Type.Union([Type.String(), Type.Null()], { description: 'For a derived image: the job that made it' }),
    created_at: Timestamp('RFC 3339, UTC'),
    updated_at: Timestamp('RFC 3339, UTC'),
  },
  { title: 'Image', additionalProperties: false },
)
export type ImageResponse = Static<typeof ImageResponse>
/** The status route answers the Image itself. */
export const ImageStatusResponse = ImageResponse
export type ImageStatusResponse = ImageResponse

export const ImageListQuery = Type.Object(
  {
    status: Type.Optional(StringEnum(IMAGE_STATUSES, { description: 'Deleted images are listed only with status=deleted' })),
    source_image_id: Type.Optional(ImageIdSchema),
    owner_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Another owner: images:admin only' })),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'next_cursor of the previous page' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: `1..${MAX_PAGE_SIZE}, default 20` })),
  },
  {
    additionalProperties: false,
    // label.<key>=<value>: every pair must match.
    patternProperties: { [`^label\\.${LABEL_KEY_PATTERN.slice(1)}`]: Type.String({ maxLength: 128 }) },
    description: 'Filters; label.<key>=<value> may be repeated for several keys',
  },
)
export const ImageListResponse = Type.Object(
  { items: Type.Array(ImageResponse), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: false },
)

export function toImageResponse(image: ImageRecord, actor: Actor | null): ImageResponse {
  return {
    image_id: image.id,
    ...(actor?.type === 'user' && actor.admin ? { owner_id: image.ownerId } : {}),
    status: image.status,
    content_type: image.contentType,
    file_name: image.fileName,
    size_bytes: image.sizeBytes,
    width: image.width,
    height: image.height,
    failure_reason: image.failureReason,
    variants: image.variants.map((v) => ({ name: v.name, format: v.format, width: v.width, height: v.height, size_bytes: v.sizeBytes })),
    placeholder: image.placeholder,
    metadata_removed: [...image.metadataRemoved],
    labels: { ...image.labels },
    source_image_id: image.sourceImageId,
    job_id: image.jobId,
    created_at: image.createdAt.toISOString(),
    updated_at: image.updatedAt.toISOString(),
  }
}

export const imageRoutes: FastifyPluginAsyncTypebox<{
  container: Pick<ApiContainer, 'getImageStatus' | 'listImages' | 'deleteImage'>
}> = async (app, { container }) => {
  app.get(
    '/api/image/v1/images',
    {
      schema: {
        tags: ['images'],
        summary: "The caller's images, newest first",
        querystring: ImageListQuery,
        response: { 200: ImageListResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request): Promise<Static<typeof ImageListResponse>> => {
      const query = request.query as Record<string, string | undefined>
      const labelFilters = Object.fromEntries(
        Object.entries(query).flatMap(([key, value]) => (key.startsWith('label.') && value !== undefined ? [[key.slice(6), value]] : [])),
      )
      const page = await container.listImages(requestContext(request), {
        ownerId: request.query.owner_id,
        status: request.query.status,
        sourceImageId: request.query.source_image_id === undefined ? undefined : parseImageId(request.query.source_image_id),
        labels: parseLabels(labelFilters),
        cursor: request.query.cursor,
        limit: request.query.limit === undefined ? undefined : Number(request.query.limit),
      })
      return { items: page.items.map((image) => toImageResponse(image, request.actor)), next_cursor: page.nextCursor }
    },
  )

  app.get(
    '/api/image/v1/images/:image_id',
    {
      schema: {
        tags: ['images'],
        summary: 'Status and metadata of an upload',
        params: ImageIdParams,
        response: { 200: ImageResponse, ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request): Promise<ImageResponse> => {
      // The params schema has already checked the ULID shape (else 400 INVALID_IMAGE_ID).
      const image = await container.getImageStatus(requestContext(request), parseImageId(request.params.image_id))
      return toImageResponse(image, request.actor)
    },
  )

  app.delete(
    '/api/image/v1/images/:image_id',
    {
      schema: {
        tags: ['images'],
        summary: 'Delete an image: its objects go, the CDN forgets it, the record becomes deleted (again 204 when it already is)',
        params: ImageIdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request, reply) => {
      await container.deleteImage(requestContext(request), parseImageId(request.params.image_id))
      return reply.code(204).send(null)
    },
  )
}
