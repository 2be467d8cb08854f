import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  AUTO_FORMAT,
  DOWNLOAD_FORMATS,
  type GetImageDownloadSignedUrl,
  type GetImageDownloadSignedUrls,
  type ImageAccess,
  MAX_IDS_PER_BATCH,
  parseImageId,
  VARIANT_NAME_PATTERN,
} from '@image-service/foundation'
import type { FastifyReply } from 'fastify'
import { requestContext } from '../http/request-context.ts'
import { errorResponses, ImageIdParams, ImageIdSchema, StringEnum, Timestamp } from '../http/schemas.ts'

// A failure of either answers INVALID_VARIANT / INVALID_FORMAT (http/errors.ts), as foundation's own check does.
const VariantSchema = Type.String({
  pattern: VARIANT_NAME_PATTERN,
  description: 'original (the uploaded bytes, the default) or the name of one of the variants of the image, e.g. thumbnail',
  examples: ['thumbnail'],
})
const FormatSchema = StringEnum([AUTO_FORMAT, ...DOWNLOAD_FORMATS], {
  description:
    'auto (the default): for a variant, the best generated format the Accept header takes (avif, then webp, then jpeg), answered with Vary: Accept; for original, its own format. Or a format the variant was generated in (the original: only its own)',
})

export const SignedDownloadResponse = Type.Object(
  {
    image_id: ImageIdSchema,
    variant: Type.String({ description: 'original or the variant name asked for' }),
    format: StringEnum(DOWNLOAD_FORMATS, { description: 'The format of the object the URL reads' }),
    download_url: Type.String({ description: 'GET this URL to read the image; valid until expires_at' }),
    expires_at: Timestamp('RFC 3339, UTC'),
  },
  { title: 'SignedDownload', additionalProperties: false },
)
export type SignedDownloadResponse = Static<typeof SignedDownloadResponse>

export const SignedDownloadQuery = Type.Object(
  { variant: Type.Optional(VariantSchema), format: Type.Optional(FormatSchema) },
  { additionalProperties: false },
)
export type SignedDownloadQuery = Static<typeof SignedDownloadQuery>

// Ids are parsed by the route and the count checked by the query, so the answers carry the
// domain codes (EMPTY_ID_LIST, TOO_MANY_IDS, INVALID_IMAGE_ID) rather than a generic validation error;
// the item length bound keeps a hostile body from reaching it at all.
export const SignedDownloadsBody = Type.Object(
  {
    image_ids: Type.Array(Type.String({ maxLength: 64 }), {
      description: `1..${MAX_IDS_PER_BATCH} image ids (ULIDs); duplicates are answered once`,
    }),
    variant: Type.Optional(VariantSchema),
    format: Type.Optional(FormatSchema),
  },
  { additionalProperties: false },
)
export type SignedDownloadsBody = Static<typeof SignedDownloadsBody>

export const SignedDownloadsResponse = Type.Object(
  {
    items: Type.Array(SignedDownloadResponse, { description: 'Ready images, in the order first requested' }),
    not_found: Type.Array(ImageIdSchema, {
      description: 'Ids that are missing, not ready, or without the variant or format, in the order first requested',
    }),
  },
  { additionalProperties: false },
)
export type SignedDownloadsResponse = Static<typeof SignedDownloadsResponse>

export type DownloadQueries = {
  getImageDownloadSignedUrl: GetImageDownloadSignedUrl
  getImageDownloadSignedUrls: GetImageDownloadSignedUrls
}

function toResponse(access: ImageAccess): SignedDownloadResponse {
  return {
    image_id: access.imageId,
    variant: access.variant,
    format: access.format,
    download_url: access.downloadUrl,
    expires_at: access.expiresAt.toISOString(),
  }
}

/**
 * An answer whose format the Accept header chose says so, for any cache between us and the
 * caller. Added to what is there: CORS has already put `Origin` in Vary for listed origins.
 */
function varyOnAccept(reply: FastifyReply, items: readonly ImageAccess[]): void {
  if (!items.some((i) => i.negotiated)) return
  const current = reply.getHeader('vary')
  const names = (Array.isArray(current) ? current.join(',') : String(current ?? '')).split(',').map((n) => n.trim())
  const kept = names.filter((n) => n !== '')
  if (!kept.some((n) => n === '*' || n.toLowerCase() === 'accept')) kept.push('Accept')
  void reply.header('vary', kept.join(', '))
}

export const downloadRoutes: FastifyPluginAsyncTypebox<{ container: DownloadQueries }> = async (app, { container }) => {
  app.get(
    '/api/image/v1/download/get-signed-url/:image_id',
    {
      schema: {
        tags: ['download'],
        summary: 'A short-lived download URL for one ready image, its original or a variant',
        params: ImageIdParams,
        querystring: SignedDownloadQuery,
        response: { 200: SignedDownloadResponse, ...errorResponses(400, 404, 503) },
      },
    },
    async (request, reply): Promise<SignedDownloadResponse> => {
      const access = await container.getImageDownloadSignedUrl(requestContext(request), {
        imageId: parseImageId(request.params.image_id),
        ...request.query,
        accept: request.headers.accept,
      })
      varyOnAccept(reply, [access])
      return toResponse(access)
    },
  )

  app.post(
    '/api/image/v1/download/get-signed-urls',
    {
      schema: {
        tags: ['download'],
        summary: `Short-lived download URLs for up to ${MAX_IDS_PER_BATCH} images, their originals or one variant`,
        body: SignedDownloadsBody,
        response: { 200: SignedDownloadsResponse, ...errorResponses(400, 503) },
      },
    },
    async (request, reply): Promise<SignedDownloadsResponse> => {
      const { image_ids, variant, format } = request.body
      const result = await container.getImageDownloadSignedUrls(requestContext(request), {
        imageIds: image_ids.map(parseImageId),
        variant,
        format,
        accept: request.headers.accept,
      })
      varyOnAccept(reply, result.items)
      return { items: result.items.map(toResponse), not_found: result.notFound }
    },
  )
}
