import type { Logger } from '@image-service/foundation'

type BetterAuthLevel = 'debug' | 'info' | 'success' | 'warn' | 'error'
/** pino's Logger or Fastify's app.log. */
export type AccountsLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>

/**
 * Better Auth's log lines go to our pino logger instead of the console. Its messages are its
 * own sentences (an email at most, never a password or token); the extra arguments may be
 * errors, and an error from the database driver quotes the failed query with its parameters
 * (session tokens, password hashes), so an error is reduced to its name and codes. Its info
 * lines ("sign-up attempt for existing email: …") are debug here: the request line and the
 * refusal's code already tell what happened, without an email address.
 */
export function betterAuthLogger(log: AccountsLog) {
  return {
    level: 'debug' as const,
    log(level: Exclude<BetterAuthLevel, 'success'>, message: string, ...args: unknown[]) {
      const details = args.map(describe)
      log[level === 'info' ? 'debug' : level]({ details: details.length > 0 ? details : undefined }, `accounts: ${message}`)
    },
  }
}

/** Strings and numbers as they are; an error by name and codes; anything else by its type only. */
function describe(value: unknown): unknown {
  if (!(value instanceof Error)) return typeof value === 'string' || typeof value === 'number' ? value : typeof value
  return describeError(value)
}

/**
 * An error as `Name (code, cause's code)`: what an operator needs to tell a missing table
 * (42P01) from an outage, without the message, which for a failed query lists its parameters.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return typeof error
  const codes = [error, error.cause]
    .map((e) => (e as { code?: unknown } | undefined)?.code)
    .filter((c) => typeof c === 'string' || typeof c === 'number')
  // drizzle's DrizzleQueryError keeps the name 'Error'; its class says more.
  const name = error.name === 'Error' ? error.constructor.name : error.name
  return codes.length > 0 ? `${name} (${codes.join(', ')})` : name
}
