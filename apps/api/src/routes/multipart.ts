import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ALLOWED_CONTENT_TYPES, IMAGE_STATUSES, MAX_FILE_NAME_LENGTH, MAX_PARTS, parseImageId } from '@image-service/foundation'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses, ImageIdParams, ImageIdSchema, StringEnum, Timestamp } from '../http/schemas.ts'

export const CreateMultipartUploadBody = Type.Object(
  {
    content_type: Type.String({ description: `One of ${ALLOWED_CONTENT_TYPES.join(', ')}, exactly` }),
    file_name: Type.String({ description: `1..${MAX_FILE_NAME_LENGTH} characters (code points), no control characters; metadata only` }),
    // Checked by foundation (INVALID_SIZE_BYTES; FILE_TOO_LARGE above MAX_UPLOAD_BYTES, before any storage call).
    size_bytes: Type.Unknown({
      description: 'The exact size of the file, 1..MAX_UPLOAD_BYTES: reserved against the quota and signed into the parts',
    }),
    labels: Type.Optional(Type.Unknown({ description: 'As for create-presigned-url' })),
  },
  { additionalProperties: false },
)

const PartUrl = Type.Object(
  {
    part_number: Type.Integer({ minimum: 1, maximum: MAX_PARTS }),
    upload_url: Type.String({
      format: 'uri',
      description: 'Presigned UploadPart URL with its content-length signed: PUT exactly size_bytes bytes',
    }),
    size_bytes: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
)

export const CreateMultipartUploadResponse = Type.Object(
  {
    image_id: ImageIdSchema,
    upload_id: Type.String(),
    part_size: Type.Integer({ description: 'max(5 MiB, ceil(size_bytes / 10000)); the last part holds the rest' }),
    expires_at: Timestamp('When the part URLs stop working (MULTIPART_URL_TTL_SECONDS); resume for fresh ones'),
    parts: Type.Array(PartUrl),
    upload_headers: Type.Object({}, { additionalProperties: Type.String(), description: 'Headers to send with each part: none' }),
  },
  { additionalProperties: false },
)

export const MultipartPartsResponse = Type.Object(
  {
    image_id: ImageIdSchema,
    upload_id: Type.String(),
    parts: Type.Array(
      Type.Object(
        { part_number: Type.Integer({ minimum: 1 }), etag: Type.String(), size_bytes: Type.Integer({ minimum: 0 }) },
        { additionalProperties: false },
      ),
      { description: 'What storage holds (ListParts)' },
    ),
    missing: Type.Array(PartUrl, { description: 'The parts still to send, with fresh URLs' }),
  },
  { additionalProperties: false },
)

export const CompleteMultipartUploadBody = Type.Object(
  {
    image_id: Type.String({ description: 'ULID' }),
    parts: Type.Array(
      Type.Object(
        {
          part_number: Type.Integer({ minimum: 1, maximum: MAX_PARTS }),
          etag: Type.String({ minLength: 1, maxLength: 128, description: 'The ETag header storage answered the part PUT with' }),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_PARTS, description: 'Every part, in ascending order' },
    ),
  },
  { additionalProperties: false },
)

export const UploadStatusResponse = Type.Object(
  { image_id: ImageIdSchema, status: StringEnum(IMAGE_STATUSES) },
  { additionalProperties: false },
)
export type UploadStatusResponse = Static<typeof UploadStatusResponse>

// 10,000 parts of {"part_number":10000,"etag":"\"<32 hex>\""} are about 600 KB.
const COMPLETE_BODY_LIMIT_BYTES = 1024 * 1024

/** Multipart uploads (DESIGN's HTTP table): create, resume, complete, abort. */
export const multipartRoutes: FastifyPluginAsyncTypebox<{
  container: Pick<ApiContainer, 'createImageMultipartUpload' | 'listMultipartParts' | 'completeMultipartUpload' | 'abortMultipartUpload'>
}> = async (app, { container }) => {
  app.post(
    '/api/image/v1/upload/create-multipart-upload',
    {
      schema: {
        tags: ['upload'],
        summary: 'Register an upload in parts and get a presigned URL for each part',
        body: CreateMultipartUploadBody,
        response: { 201: CreateMultipartUploadResponse, ...errorResponses(400, 403, 503) },
      },
    },
    async (request, reply) => {
      const upload = await container.createImageMultipartUpload(requestContext(request), {
        contentType: request.body.content_type,
        fileName: request.body.file_name,
        sizeBytes: request.body.size_bytes,
        labels: request.body.labels,
      })
      return reply.code(201).send({
        image_id: upload.imageId,
        upload_id: upload.uploadId,
        part_size: upload.partSize,
        expires_at: upload.expiresAt.toISOString(),
        parts: upload.parts.map((p) => ({ part_number: p.partNumber, upload_url: p.uploadUrl, size_bytes: p.sizeBytes })),
        upload_headers: upload.uploadHeaders,
      })
    },
  )

  app.get(
    '/api/image/v1/upload/multipart/:image_id/parts',
    {
      schema: {
        tags: ['upload'],
        summary: 'What storage holds of a multipart upload, and fresh URLs for the parts still missing (resume)',
        params: ImageIdParams,
        response: { 200: MultipartPartsResponse, ...errorResponses(400, 404, 409, 503) },
      },
    },
    async (request) => {
      const progress = await container.listMultipartParts(requestContext(request), parseImageId(request.params.image_id))
      return {
        image_id: progress.imageId,
        upload_id: progress.uploadId,
        parts: progress.parts.map((p) => ({ part_number: p.partNumber, etag: p.etag, size_bytes: p.sizeBytes })),
        missing: progress.missing.map((p) => ({ part_number: p.partNumber, upload_url: p.uploadUrl, size_bytes: p.sizeBytes })),
      }
    },
  )

  app.post(
    '/api/image/v1/upload/complete-multipart-upload',
    {
      bodyLimit: COMPLETE_BODY_LIMIT_BYTES,
      schema: {
        tags: ['upload'],
        summary: 'Assemble the parts; the stored object is then validated like any upload',
        body: CompleteMultipartUploadBody,
        response: { 200: UploadStatusResponse, ...errorResponses(400, 404, 409, 503) },
      },
    },
    async (request) => {
      const done = await container.completeMultipartUpload(requestContext(request), {
        imageId: parseImageId(request.body.image_id),
        parts: request.body.parts.map((p) => ({ partNumber: p.part_number, etag: p.etag })),
      })
      return { image_id: done.imageId, status: done.status }
    },
  )

  app.delete(
    '/api/image/v1/upload/multipart/:image_id',
    {
      schema: {
        tags: ['upload'],
        summary: 'Abort a multipart upload: its parts are dropped and the image fails with `aborted`',
        params: ImageIdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      await container.abortMultipartUpload(requestContext(request), parseImageId(request.params.image_id))
      return reply.code(204).send(null)
    },
  )
}
