import { DependencyUnavailableError } from '../../common/errors.ts'

/** Socket-level and postgres.js connection error codes: the server could not be reached or went away. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECTION_CLOSED',
])

/**
 * SQLSTATEs meaning "the server cannot serve you right now" rather than "your query is wrong":
 * too_many_connections and other insufficient resources (53xxx), admin/crash shutdown and
 * cannot_connect_now while starting (57P01-57P03), connection exceptions (08xxx), and a
 * read-only server (25006), which is what writes meet during a primary failover.
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('53') || ['57P01', '57P02', '57P03', '25006'].includes(code)
}

/** Whether an error (or anything in its cause chain: drizzle wraps driver errors) is an outage. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || isUnavailableSqlState(code))) return true
    // Node reports a refused dual-stack connect (localhost -> ::1 and 127.0.0.1) as an AggregateError.
    if (current instanceof AggregateError && current.errors.some((inner) => isDatabaseUnavailable(inner))) return true
    current = current.cause
  }
  return false
}

/**
 * How long one repository call may take before we call the database unavailable. Our queries
 * are primary-key lookups that answer in milliseconds, so this only ever fires on an outage.
 */
export const DEFAULT_DEADLINE_MS = 10_000

/**
 * Runs a database call; outages become DependencyUnavailableError, anything else passes through.
 * The deadline exists because postgres.js 3.4.9 retries forever, without error, when a server
 * closes the socket during startup (porsager/postgres#1193): connect_timeout alone cannot bound
 * it. A call that outlives the deadline may still complete later; callers treat "unavailable"
 * as "retry", and every write we make is safe to retry (pending-only transitions).
 */
export async function withDatabaseErrors<T>(run: () => PromiseLike<T>, deadlineMs: number = DEFAULT_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${deadlineMs} ms`), { code: 'ETIMEDOUT' })), deadlineMs)
  })
  try {
    return await Promise.race([Promise.resolve(run()), deadline])
  } catch (error) {
    if (isDatabaseUnavailable(error)) {
      throw new DependencyUnavailableError('DATABASE_UNAVAILABLE', 'the database is unavailable', { cause: error })
    }
    throw error
  } finally {
    clearTimeout(timer)
  }
}
