import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { ApiContainer } from '../container.ts'
import { errorResponses } from '../http/schemas.ts'

// fal's callback carries the model's output (URLs, maybe logs): larger than our own requests.
const WEBHOOK_BODY_LIMIT_BYTES = 1024 * 1024

const header = (value: string | string[] | undefined) => (typeof value === 'string' ? value : undefined)

/**
 * fal's signed callback (DESIGN "AI processing"): no bearer token, fal's Ed25519 signature
 * over the raw body instead, so the body is kept as bytes (a parsed and re-serialised body
 * would not hash the same). Registered in its own scope, where JSON is not parsed.
 */
export const falWebhookRoutes: FastifyPluginAsyncTypebox<{ container: Pick<ApiContainer, 'receiveFalWebhook'> }> = async (
  app,
  { container },
) => {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT_BYTES }, (_request, body, done) =>
    done(null, body),
  )
  app.post(
    '/api/image/v1/processing/webhooks/fal',
    {
      config: { auth: 'none' },
      bodyLimit: WEBHOOK_BODY_LIMIT_BYTES,
      schema: {
        tags: ['processing'],
        summary: "fal's webhook: verified against fal's JWKS, deduplicated by request_id, handed to the runner",
        security: [],
        response: {
          200: Type.Object({ status: Type.Union([Type.Literal('accepted'), Type.Literal('duplicate'), Type.Literal('ignored')]) }),
          ...errorResponses(400, 401, 413, 415, 503),
        },
      },
    },
    async (request) => {
      const status = await container.receiveFalWebhook(
        {
          requestId: header(request.headers['x-fal-webhook-request-id']),
          userId: header(request.headers['x-fal-webhook-user-id']),
          timestamp: header(request.headers['x-fal-webhook-timestamp']),
          signature: header(request.headers['x-fal-webhook-signature']),
        },
        request.body as Buffer,
      )
      return { status }
    },
  )
}
