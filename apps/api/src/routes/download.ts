import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  type GetImageDownloadSignedUrl,
  type GetImageDownloadSignedUrls,
  type ImageAccess,
  MAX_IDS_PER_BATCH,
  parseImageId,
} from '@image-service/foundation'
import { requestContext } from '../http/request-context.ts'
import { errorResponses, ImageIdParams, ImageIdSchema, Timestamp } from '../http/schemas.ts'

export const SignedDownloadResponse = Type.Object(
  {
    image_id: ImageIdSchema,
    download_url: Type.String({ description: 'GET this URL to read the image; valid until expires_at' }),
    expires_at: Timestamp('RFC 3339, UTC'),
  },
  { title: 'SignedDownload', additionalProperties: false },
)
export type SignedDownloadResponse = Static<typeof SignedDownloadResponse>

// Ids are parsed by the route and the count checked by the query, so the answers carry the
// domain codes (EMPTY_ID_LIST, TOO_MANY_IDS, INVALID_IMAGE_ID) rather than a generic validation error;
// the item length bound keeps a hostile body from reaching it at all.
export const SignedDownloadsBody = Type.Object(
  {
    image_ids: Type.Array(Type.String({ maxLength: 64 }), {
      description: `1..${MAX_IDS_PER_BATCH} image ids (ULIDs); duplicates are answered once`,
    }),
  },
  { additionalProperties: false },
)
export type SignedDownloadsBody = Static<typeof SignedDownloadsBody>

export const SignedDownloadsResponse = Type.Object(
  {
    items: Type.Array(SignedDownloadResponse, { description: 'Ready images, in the order first requested' }),
    not_found: Type.Array(ImageIdSchema, { description: 'Ids that are missing or not ready, in the order first requested' }),
  },
  { additionalProperties: false },
)
export type SignedDownloadsResponse = Static<typeof SignedDownloadsResponse>

export type DownloadQueries = {
  getImageDownloadSignedUrl: GetImageDownloadSignedUrl
  getImageDownloadSignedUrls: GetImageDownloadSignedUrls
}

function toResponse(access: ImageAccess): SignedDownloadResponse {
  return { image_id: access.imageId, download_url: access.downloadUrl, expires_at: access.expiresAt.toISOString() }
}

export const downloadRoutes: FastifyPluginAsyncTypebox<{ container: DownloadQueries }> = async (app, { container }) => {
  app.get(
    '/api/image/v1/download/get-signed-url/:image_id',
    {
      schema: {
        tags: ['download'],
        summary: 'A short-lived download URL for one ready image',
        params: ImageIdParams,
        response: { 200: SignedDownloadResponse, ...errorResponses(400, 404, 503) },
      },
    },
    async (request): Promise<SignedDownloadResponse> =>
      toResponse(await container.getImageDownloadSignedUrl(requestContext(request), { imageId: parseImageId(request.params.image_id) })),
  )

  app.post(
    '/api/image/v1/download/get-signed-urls',
    {
      schema: {
        tags: ['download'],
        summary: `Short-lived download URLs for up to ${MAX_IDS_PER_BATCH} images`,
        body: SignedDownloadsBody,
        response: { 200: SignedDownloadsResponse, ...errorResponses(400, 503) },
      },
    },
    async (request): Promise<SignedDownloadsResponse> => {
      const imageIds = request.body.image_ids.map(parseImageId)
      const result = await container.getImageDownloadSignedUrls(requestContext(request), { imageIds })
      return { items: result.items.map(toResponse), not_found: result.notFound }
    },
  )
}
