/**
 * Node's request header limit, set here rather than inherited: a bearer token may be 15 KB, and
 * a request past this limit is answered 431 HEADERS_TOO_LARGE by the client error handler.
 */
export const MAX_HEADER_BYTES = 16 * 1024

// Node looks for requests past their deadline on a timer, every 30 s by default, which would let
// a slow client hold its connection for up to the timeout plus 30 s.
const DEADLINE_CHECK_INTERVAL_MS = 1000

// Longer than the 60 s idle timeout of AWS load balancers, so the balancer, not this server,
// closes an idle kept-alive connection (the other way round, a request the balancer sends just as
// the server closes fails with a 502).
const KEEP_ALIVE_TIMEOUT_MS = 72_000

/**
 * Fastify constructor options for the HTTP server's limits. The whole request, headers and body,
 * must arrive within `requestTimeoutSeconds` (else 408), so a client trickling bytes cannot hold
 * a connection for ever. They go to Node's createServer too: set later on the server instance,
 * Node's request deadline stops covering the body once the headers are in.
 * No socket inactivity timeout (`connectionTimeout` stays 0): once a request is in, its handler
 * is bounded by its own deadlines (the database's), and a long response (an event stream) may
 * be quiet between heartbeats.
 */
export function serverOptions(options: { requestTimeoutSeconds: number }) {
  const requestTimeout = options.requestTimeoutSeconds * 1000
  return {
    requestTimeout,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    http: {
      requestTimeout,
      headersTimeout: requestTimeout,
      connectionsCheckingInterval: DEADLINE_CHECK_INTERVAL_MS,
      maxHeaderSize: MAX_HEADER_BYTES,
    },
  }
}
