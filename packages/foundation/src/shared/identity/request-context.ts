import { AuthenticationError } from './authentication-error.ts'

/**
 * Who is asking, passed first to every command and query. Nothing inside foundation reads
 * identity from anywhere else (no globals, no request objects): the api builds a context at
 * the HTTP edge, the processor one per message.
 *
 * `user` is an authenticated caller (a verified JWT's `sub`, or an API key's owner);
 * `anonymous` a caller on a route that needs no credential; `system` the processor acting
 * on its own (a queue message, a sweep).
 */
export type Actor =
  | { type: 'user'; ownerId: string; admin: boolean; via: 'jwt' | 'api_key'; apiKeyId?: string }
  | { type: 'anonymous' }
  | { type: 'system'; name: string }

export type RequestContext = {
  actor: Actor
  /** The HTTP request id, or the queue message id: what ties a log line to its cause. */
  requestId: string
  /** The caller's address as the api edge sees it (request.ip), for the audit trail. */
  clientIp?: string
}

export const anonymousActor: Actor = { type: 'anonymous' }

export function systemContext(name: string, requestId: string): RequestContext {
  return { actor: { type: 'system', name }, requestId }
}

export type UserActor = Extract<Actor, { type: 'user' }>

/** The authenticated caller, or AuthenticationError: for commands that act for an owner. */
export function requireUser(ctx: RequestContext): UserActor {
  if (ctx.actor.type !== 'user') throw new AuthenticationError('this action needs an authenticated caller')
  return ctx.actor
}

/** A user's context, for tests and tools that act for one owner (the api builds it from the credential). */
export function userContext(ownerId: string, options: { admin?: boolean; requestId?: string } = {}): RequestContext {
  return { actor: { type: 'user', ownerId, admin: options.admin === true, via: 'jwt' }, requestId: options.requestId ?? 'local' }
}
