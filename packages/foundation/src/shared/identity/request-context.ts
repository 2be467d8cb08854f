/**
 * Who is asking, passed first to every command and query. Nothing inside foundation reads
 * identity from anywhere else (no globals, no request objects): the api builds a context at
 * the HTTP edge, the processor one per message.
 *
 * `anonymous` is every HTTP caller until authentication exists; `system` is the processor
 * acting on its own (a queue message, a sweep).
 */
export type Actor = { type: 'anonymous' } | { type: 'system'; name: string }

export type RequestContext = {
  actor: Actor
  /** The HTTP request id, or the queue message id: what ties a log line to its cause. */
  requestId: string
}

export const anonymousActor: Actor = { type: 'anonymous' }

export function systemContext(name: string, requestId: string): RequestContext {
  return { actor: { type: 'system', name }, requestId }
}
