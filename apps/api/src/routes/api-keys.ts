import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ApiKeyRecord } from '@image-service/foundation'
import { type Static, Type } from '@sinclair/typebox'
import type { ApiContainer } from '../container.ts'
import { requestContext } from '../http/request-context.ts'
import { errorResponses, Timestamp } from '../http/schemas.ts'

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ description: '1..100 characters, to tell keys apart' }),
    expires_in_days: Type.Optional(Type.Integer({ description: '1..3650; unset: the key never expires' })),
  },
  { additionalProperties: false },
)

const ApiKeyFields = {
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it' }),
  created_at: Timestamp('RFC 3339, UTC'),
  expires_at: Type.Union([Timestamp('RFC 3339, UTC'), Type.Null()]),
}
export const CreatedApiKeyResponse = Type.Object(
  { ...ApiKeyFields, key: Type.String({ description: 'The key itself: shown this once, never again' }) },
  { additionalProperties: false },
)
export const ApiKeyResponse = Type.Object(
  {
    ...ApiKeyFields,
    revoked_at: Type.Union([Timestamp('RFC 3339, UTC'), Type.Null()]),
    last_used_at: Type.Union([Timestamp('within a minute'), Type.Null()]),
  },
  { title: 'ApiKey', additionalProperties: false },
)
export const ApiKeyListResponse = Type.Object({ items: Type.Array(ApiKeyResponse) }, { additionalProperties: false })
const ApiKeyIdParams = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false })

const iso = (date: Date | null) => (date === null ? null : date.toISOString())
const fields = (key: ApiKeyRecord) => ({
  id: key.id,
  name: key.name,
  prefix: key.prefix,
  created_at: key.createdAt.toISOString(),
  expires_at: iso(key.expiresAt),
})

/** API keys for machine clients; managed with a user token only (an API key gets 403). */
export const apiKeyRoutes: FastifyPluginAsyncTypebox<{
  container: Pick<ApiContainer, 'createApiKey' | 'listApiKeys' | 'revokeApiKey'>
}> = async (app, { container }) => {
  app.post(
    '/api/image/v1/api-keys',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Create an API key (the key is in this answer only)',
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKeyResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request, reply): Promise<Static<typeof CreatedApiKeyResponse>> => {
      const { record, plaintext } = await container.createApiKey(requestContext(request), {
        name: request.body.name,
        expiresInDays: request.body.expires_in_days,
      })
      reply.code(201)
      return { ...fields(record), key: plaintext }
    },
  )

  app.get(
    '/api/image/v1/api-keys',
    {
      schema: {
        tags: ['api-keys'],
        summary: "The caller's API keys, newest first",
        response: { 200: ApiKeyListResponse, ...errorResponses(401, 403, 503) },
      },
    },
    async (request): Promise<Static<typeof ApiKeyListResponse>> => ({
      items: (await container.listApiKeys(requestContext(request))).map((key) => ({
        ...fields(key),
        revoked_at: iso(key.revokedAt),
        last_used_at: iso(key.lastUsedAt),
      })),
    }),
  )

  app.delete(
    '/api/image/v1/api-keys/:id',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'Revoke an API key (every replica refuses it within 60 s)',
        params: ApiKeyIdParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await container.revokeApiKey(requestContext(request), request.params.id)
      return reply.code(204).send(null)
    },
  )
}
