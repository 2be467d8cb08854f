import { STATUS_CODES } from 'node:http'
import { DependencyUnavailableError, isDatabaseUnavailable } from '@image-service/foundation'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { describeError } from './better-auth-logging.ts'
import { ACCOUNTS_BASE_PATH, type Accounts, CLIENT_IP_HEADER } from './create-accounts.ts'

/** Request headers not passed on: recomputed (the body is re-serialised) or ours to set. */
const DROPPED_REQUEST_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', CLIENT_IP_HEADER])
/** Response headers not copied: Fastify sets them, or CORS does (see mergeExposedHeaders). */
const DROPPED_RESPONSE_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'set-cookie',
  'access-control-expose-headers',
])

/** A Better Auth refusal or failure, answered by the api's error handler in our shape. */
export class AccountsRefusal extends Error {
  override readonly name = 'AccountsRefusal'
  readonly statusCode: number
  readonly code: string
  constructor(statusCode: number, code: string, message: string) {
    super(message)
    this.statusCode = statusCode
    this.code = code
  }
}

/**
 * `/api/auth/*` (GET and POST) handed to Better Auth as a Fetch Request, the Fastify recipe
 * of its docs. Its successes are copied through; its errors ({ code, message } or no body at
 * all) become AccountsRefusals, so they get our error shape, status and logging.
 */
export const accountsRoutes: FastifyPluginAsync<{ accounts: Pick<Accounts, 'auth' | 'baseUrl'> }> = async (app, { accounts }) => {
  app.route({
    method: ['GET', 'POST'],
    url: `${ACCOUNTS_BASE_PATH}/*`,
    schema: { hide: true },
    handler: async (request, reply) => {
      const response = await accounts.auth.handler(toFetchRequest(request, accounts.baseUrl)).catch((error: unknown) => {
        throw toFailure(error)
      })
      if (response.status >= 400) throw await toRefusal(response, reply)
      copyResponseHeaders(response, reply)
      return reply.code(response.status).send(response.body === null ? undefined : Buffer.from(await response.arrayBuffer()))
    },
  })
}

function toFetchRequest(request: FastifyRequest, origin: string): Request {
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || DROPPED_REQUEST_HEADERS.has(name)) continue
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one)
  }
  // request.ip honours TRUST_PROXY; a client cannot pick its own rate-limit bucket.
  headers.set(CLIENT_IP_HEADER, request.ip)
  // The configured origin, not the Host header: Better Auth builds links from this URL.
  const url = new URL(request.url, origin)
  const hasBody = request.method !== 'GET' && request.body !== undefined
  return new Request(url, { method: request.method, headers, ...(hasBody ? { body: JSON.stringify(request.body) } : {}) })
}

function copyResponseHeaders(response: Response, reply: FastifyReply): void {
  response.headers.forEach((value, name) => {
    if (!DROPPED_RESPONSE_HEADERS.has(name)) void reply.header(name, value)
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) void reply.header('set-cookie', cookies)
  mergeExposedHeaders(response, reply)
}

/** Better Auth exposes set-auth-token to browsers; CORS may already expose headers of its own. */
function mergeExposedHeaders(response: Response, reply: FastifyReply): void {
  const added = response.headers.get('access-control-expose-headers')
  if (added === null) return
  const current = reply.getHeader('access-control-expose-headers')
  const names = new Set([...String(current ?? '').split(','), ...added.split(',')].map((h) => h.trim()).filter((h) => h.length > 0))
  void reply.header('access-control-expose-headers', [...names].join(', '))
}

/**
 * What Better Auth threw (a database error, mostly) as an error the edge answers with a 5xx
 * and may log: named and coded, without the original message or cause, which quote the query.
 */
function toFailure(error: unknown): Error {
  const reason = `accounts failed: ${describeError(error)}`
  if (isDatabaseUnavailable(error)) return new DependencyUnavailableError('DATABASE_UNAVAILABLE', reason)
  return new AccountsRefusal(500, 'INTERNAL_ERROR', reason)
}

async function toRefusal(response: Response, reply: FastifyReply): Promise<AccountsRefusal> {
  const body = (await response.json().catch(() => undefined)) as { code?: unknown; message?: unknown } | undefined
  const retryAfter = response.headers.get('x-retry-after')
  if (retryAfter !== null) void reply.header('retry-after', retryAfter)
  const own = typeof body?.code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(body.code) ? body.code : undefined
  const code = own === undefined ? fallbackCode(response.status) : (OUR_NAMES[own] ?? own)
  const message = typeof body?.message === 'string' ? body.message : (STATUS_CODES[response.status] ?? 'error')
  return new AccountsRefusal(response.status, code, message)
}

/** Better Auth's codes are kept, except where DESIGN names the same refusal differently. */
const OUR_NAMES: Record<string, string> = { UNAUTHORIZED: 'UNAUTHENTICATED' }

/** Statuses Better Auth answers without a code of its own. */
function fallbackCode(status: number): string {
  if (status === 401) return 'UNAUTHENTICATED'
  if (status === 403) return 'FORBIDDEN'
  if (status === 404) return 'ROUTE_NOT_FOUND'
  if (status === 429) return 'RATE_LIMITED'
  return status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST'
}
