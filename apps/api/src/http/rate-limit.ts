import rateLimit, { normalizeIP, type RateLimitPluginOptions } from '@fastify/rate-limit'
import { isAppError, type RateLimitConfig } from '@image-service/foundation'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest, FastifyTypeProvider } from 'fastify'
import type { Redis } from 'ioredis'
import { needsCredential } from './authentication.ts'
import { httpError } from './errors.ts'
import type { AnyFastifyInstance } from './fastify-instance.ts'

/**
 * DESIGN, "Quotas, rate limits, audit". Every limited request counts against one key: its owner
 * once authenticated, else its client IP (request.ip, so TRUST_PROXY decides whether
 * X-Forwarded-For counts; IPv6 by /64). Order on a `/api/image/*` route:
 *
 * 1. a gate before authentication refuses a client IP that has spent its budget on 401s,
 *    without counting: otherwise a caller could go on guessing credentials past the limit and tell a
 *    good one by its 200. An owner sharing that IP (a NAT) is refused too until the window
 *    ends: the price of stopping the guessing;
 * 2. authentication; a 401 counts against the client IP's budget of refusals (the onError
 *    hook below), since the limit's own hook never runs for it;
 * 3. @fastify/rate-limit's hook counts the request against the owner (or, on open routes, the IP);
 * 4. on the issuing routes, a second registration counts it against the owner's issuance budget,
 *    whose RateLimit-* headers then replace the first's (the tighter of the two).
 *
 * A Redis outage lets requests through (skipOnError) rather than refusing every one with a
 * 500; ioredis's connection errors are logged as warnings meanwhile.
 */

/** Presign, multipart and processing/start (DESIGN): each issues URLs or starts paid work. */
export const ISSUANCE_ROUTES: ReadonlySet<string> = new Set([
  'POST /api/image/v1/upload/create-presigned-url',
  'POST /api/image/v1/upload/create-multipart-upload',
  'GET /api/image/v1/upload/multipart/:image_id/parts',
  'POST /api/image/v1/processing/start',
])

/** Health, metrics and docs are not limited: probes and scrapers must never see a 429. */
export function isExempt(request: FastifyRequest): boolean {
  return isOperationalPath(request.routeOptions.url ?? '')
}

/** Health, metrics and docs routes, by route template. */
export function isOperationalPath(url: string): boolean {
  return url === '/metrics' || url === '/api/openapi.json' || url === '/docs' || url.startsWith('/docs/') || url.startsWith('/api/health/')
}

const isIssuance = (request: FastifyRequest) => ISSUANCE_ROUTES.has(`${request.method} ${request.routeOptions.url ?? ''}`)

/**
 * An owner; else the client IP, in one budget for open routes (the webhook, /api/auth/*) and
 * another for refused credentials, so a flood of bad tokens and a busy webhook sender do not
 * spend each other's.
 */
function keyOf(request: FastifyRequest): string {
  if (request.actor?.type === 'user') return `owner:${request.actor.ownerId}`
  return `${needsCredential(request) ? 'refused' : 'open'}:${normalizeIP(request.ip)}`
}

const rateLimited = (seconds: number) => httpError(429, 'RATE_LIMITED', `rate limit exceeded, retry in ${seconds} s`)

export type RateLimitOptions = Pick<RateLimitConfig, 'perMinute' | 'issuancePerMinute' | 'windowSeconds' | 'redisKeyPrefix'> & {
  /** Counters shared by every replica; unset keeps them in this process's memory. */
  redis?: Redis
}

/** Before registerAuthentication (the gate must run first) and before any route (onRoute). */
export async function registerRateLimit<L extends FastifyBaseLogger, P extends FastifyTypeProvider>(
  app: AnyFastifyInstance<L, P>,
  options: RateLimitOptions,
): Promise<void> {
  const common = {
    global: true,
    timeWindow: options.windowSeconds * 1000,
    keyGenerator: keyOf,
    enableDraftSpec: true,
    skipOnError: true,
    errorResponseBuilder: (_request, context) => rateLimited(Math.ceil(context.ttl / 1000)),
    ...(options.redis === undefined ? {} : { redis: options.redis }),
  } satisfies RateLimitPluginOptions
  await app.register(rateLimit, {
    ...common,
    max: options.perMinute,
    nameSpace: `${options.redisKeyPrefix}all:`,
    allowList: (request) => isExempt(request),
  })
  const peek = app.createRateLimit()
  await app.register(rateLimit, {
    ...common,
    max: options.issuancePerMinute,
    nameSpace: `${options.redisKeyPrefix}issuance:`,
    allowList: (request) => !isIssuance(request),
  })

  app.addHook('onRequest', async (request, reply) => {
    if (!needsCredential(request)) return
    const state = await peek(request, { increment: false })
    if (state.isAllowed || state.remaining > 0) return
    refuse(reply, state.max, state.ttlInSeconds)
  })
  app.addHook('onError', async (request, _reply, error) => {
    if (!needsCredential(request) || request.actor?.type === 'user') return
    if (isAppError(error) && error.kind === 'unauthenticated') await peek(request)
  })
}

/** What the plugin's own hook sends when a budget is spent, for the gate's refusals. */
function refuse(reply: FastifyReply, max: number, seconds: number): never {
  void reply.headers({ 'ratelimit-limit': max, 'ratelimit-remaining': 0, 'ratelimit-reset': seconds, 'retry-after': seconds })
  throw rateLimited(seconds)
}
