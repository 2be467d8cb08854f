import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { parseImageId } from '@image-service/foundation'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses } from '../http/schemas.ts'
import { UploadStatusResponse } from './multipart.ts'

export const ConfirmUploadBody = Type.Object({ image_id: Type.String({ description: 'ULID' }) }, { additionalProperties: false })

/** `upload/confirm`: validate now, without waiting for the storage event. */
export const confirmRoutes: FastifyPluginAsyncTypebox<{ container: Pick<ApiContainer, 'confirmUpload'> }> = async (app, { container }) => {
  app.post(
    '/api/image/v1/upload/confirm',
    {
      schema: {
        tags: ['upload'],
        summary: 'The object is uploaded: queue its validation now (202), or answer its final status (200)',
        body: ConfirmUploadBody,
        response: { 200: UploadStatusResponse, 202: UploadStatusResponse, ...errorResponses(400, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const confirmed = await container.confirmUpload(requestContext(request), parseImageId(request.body.image_id))
      return reply.code(confirmed.queued ? 202 : 200).send({ image_id: confirmed.imageId, status: confirmed.status })
    },
  )
}
