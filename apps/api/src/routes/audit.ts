import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AUDIT_ACTIONS, MAX_PAGE_SIZE } from '@image-service/foundation'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses, ImageIdSchema, Timestamp } from '../http/schemas.ts'

export const AuditQuery = Type.Object(
  {
    image_id: Type.Optional(ImageIdSchema),
    // Checked by foundation (INVALID_ACTION), so the answer names the problem.
    action: Type.Optional(Type.String({ maxLength: 40, description: `One of ${AUDIT_ACTIONS.join(', ')}` })),
    owner_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Another owner: images:admin only' })),
    cursor: Type.Optional(Type.String({ maxLength: 40, description: 'next_cursor of the previous page' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: `1..${MAX_PAGE_SIZE}, default 20` })),
  },
  { additionalProperties: false },
)

export const AuditEventResponse = Type.Object(
  {
    id: Type.String({ description: 'Increases with time; the keyset cursor' }),
    at: Timestamp('RFC 3339, UTC'),
    actor: Type.Object(
      {
        type: Type.String({ description: 'user, system or anonymous' }),
        id: Type.Optional(Type.String({ description: "A user's sub (or an API key's owner)" })),
        via: Type.Optional(Type.String({ description: 'jwt or api_key' })),
        api_key_id: Type.Optional(Type.String()),
        name: Type.Optional(Type.String({ description: "A system actor's name (processor)" })),
      },
      { additionalProperties: false },
    ),
    owner_id: Type.String(),
    action: Type.String(),
    image_id: Type.Union([ImageIdSchema, Type.Null()]),
    request_id: Type.String({ description: 'The HTTP request that caused it (for the processor: the issuing request)' }),
    detail: Type.Object({}, { additionalProperties: true }),
  },
  { title: 'AuditEvent', additionalProperties: false },
)
export const AuditListResponse = Type.Object(
  { items: Type.Array(AuditEventResponse), next_cursor: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: false },
)
export type AuditListResponse = Static<typeof AuditListResponse>

export const auditRoutes: FastifyPluginAsyncTypebox<{ container: Pick<ApiContainer, 'listAudit'> }> = async (app, { container }) => {
  app.get(
    '/api/image/v1/audit',
    {
      schema: {
        tags: ['images'],
        summary: "Who did what to the caller's images and keys, newest first",
        querystring: AuditQuery,
        response: { 200: AuditListResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request): Promise<AuditListResponse> => {
      const page = await container.listAudit(requestContext(request), {
        ownerId: request.query.owner_id,
        imageId: request.query.image_id,
        action: request.query.action,
        cursor: request.query.cursor,
        limit: request.query.limit === undefined ? undefined : Number(request.query.limit),
      })
      return {
        items: page.items.map((row) => ({
          id: row.id,
          at: row.at.toISOString(),
          actor: row.actor,
          owner_id: row.ownerId,
          action: row.action,
          image_id: row.imageId,
          request_id: row.requestId,
          detail: row.detail,
        })),
        next_cursor: page.nextCursor,
      }
    },
  )
}
