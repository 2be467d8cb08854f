import type { FastifyBaseLogger, FastifyTypeProvider } from 'fastify'
import type { AnyFastifyInstance } from './fastify-instance.ts'

/** The interactive docs need scripts and styles; @fastify/swagger-ui sets its own CSP there. */
const DOCS_PREFIX = '/docs'

// A JSON API renders nothing: no sources, no framing.
const API_CSP = "default-src 'none'; frame-ancestors 'none'"

export type SecurityHeaderOptions = {
  /**
   * Strict-Transport-Security max-age, or undefined for none. Off by default: TLS ends at the
   * load balancer / CloudFront in front of the API, which is where HSTS belongs; set it here
   * only when this process is reached over HTTPS directly.
   */
  hstsMaxAgeSeconds?: number | undefined
}

/** Headers for a JSON API, hand-set (helmet's defaults target HTML pages). */
export function registerSecurityHeaders<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: AnyFastifyInstance<L, P>,
  options: SecurityHeaderOptions = {},
): void {
  const hsts = options.hstsMaxAgeSeconds === undefined ? undefined : `max-age=${options.hstsMaxAgeSeconds}; includeSubDomains`
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('x-frame-options', 'DENY')
    if (hsts !== undefined) reply.header('strict-transport-security', hsts)
    if (request.url === DOCS_PREFIX || request.url.startsWith(`${DOCS_PREFIX}/`)) return
    // Signed URLs and image states change; no browser or proxy may replay an answer.
    reply.header('cache-control', 'no-store')
    reply.header('content-security-policy', API_CSP)
  })
}
