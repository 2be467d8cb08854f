import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ALLOWED_CONTENT_TYPES, MAX_FILE_NAME_LENGTH } from '@image-service/foundation'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { traceRequestImage } from '../http/tracing.ts'
import { errorResponses, ImageIdSchema, Timestamp } from '../http/schemas.ts'

/**
 * The body schema checks shape only (strings, required, nothing else). The content type
 * allowlist and file name rules live in foundation, which answers with their own codes
 * (INVALID_CONTENT_TYPE, INVALID_FILE_NAME); `enum` here would turn them into generic
 * validation errors.
 */
export const CreatePresignedUrlBody = Type.Object(
  {
    content_type: Type.String({ description: `One of ${ALLOWED_CONTENT_TYPES.join(', ')}, exactly` }),
    file_name: Type.String({
      description: `1..${MAX_FILE_NAME_LENGTH} characters (code points), no control characters; metadata only`,
    }),
    // Checked by foundation (INVALID_SIZE_BYTES, FILE_TOO_LARGE above MAX_UPLOAD_BYTES).
    size_bytes: Type.Optional(
      Type.Unknown({
        description: 'The exact size to be uploaded, 1..MAX_UPLOAD_BYTES: the quota reserves it (MAX_UPLOAD_BYTES when absent)',
      }),
    ),
    // Checked by foundation, which answers INVALID_LABELS naming every problem.
    labels: Type.Optional(
      Type.Unknown({
        description: 'At most 10 key/value strings (keys ^[a-z][a-z0-9_]{0,31}$, values 1..128 characters), e.g. {"batch_id":"b42"}',
      }),
    ),
  },
  { additionalProperties: false },
)
export type CreatePresignedUrlBody = Static<typeof CreatePresignedUrlBody>

export const CreatePresignedUrlResponse = Type.Object(
  {
    image_id: ImageIdSchema,
    upload_url: Type.String({ format: 'uri', description: 'Presigned PUT URL' }),
    expires_at: Timestamp('When upload_url stops working (RFC 3339, UTC)'),
    // additionalProperties (not Type.Record's patternProperties) reads the same in OpenAPI.
    upload_headers: Type.Object({}, { additionalProperties: Type.String(), description: 'Headers to send with the PUT, exactly as given' }),
  },
  { additionalProperties: false },
)
export type CreatePresignedUrlResponse = Static<typeof CreatePresignedUrlResponse>

export const uploadRoutes: FastifyPluginAsyncTypebox<{ container: Pick<ApiContainer, 'createImageUploadPresignedUrl'> }> = async (
  app,
  { container },
) => {
  app.post(
    '/api/image/v1/upload/create-presigned-url',
    {
      schema: {
        tags: ['upload'],
        summary: 'Register an upload and get a presigned PUT URL for it',
        body: CreatePresignedUrlBody,
        response: { 201: CreatePresignedUrlResponse, ...errorResponses(400, 403, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const upload = await container.createImageUploadPresignedUrl(requestContext(request), {
        contentType: request.body.content_type,
        fileName: request.body.file_name,
        sizeBytes: request.body.size_bytes,
        labels: request.body.labels,
      })
      traceRequestImage(request, upload.imageId)
      return reply.code(201).send({
        image_id: upload.imageId,
        upload_url: upload.uploadUrl,
        expires_at: upload.expiresAt.toISOString(),
        upload_headers: upload.uploadHeaders,
      })
    },
  )
}
