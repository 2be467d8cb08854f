import { mkdirSync } from 'node:fs'
import { type AppProcess, startAppProcess } from '@image-service/devstack'

export type StartAppOptions = {
  /** Repository-relative entry, e.g. apps/api/src/main.ts. */
  entry: string
  env: Record<string, string>
  /** Write a V8 CPU profile (--cpu-prof) into this directory when the process exits. */
  cpuProfileDir?: string
  name: string
}

/**
 * Runs one of the apps as its own process, as in production, so the load generator and the
 * emulators in this process do not share its event loop. Its logs go to /dev/null: they are
 * still formatted and written (that cost is what LOG_LEVEL measures), just not kept.
 */
export function startApp(options: StartAppOptions): AppProcess {
  const nodeArgs: string[] = []
  if (options.cpuProfileDir !== undefined) {
    mkdirSync(options.cpuProfileDir, { recursive: true })
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, `--cpu-prof-name=${options.name}-${Date.now()}.cpuprofile`)
  }
  const app = startAppProcess({
    name: options.name,
    entry: options.entry,
    env: { ...process.env, ...options.env },
    nodeArgs,
    stdio: 'discard',
  })
  void app.exited.then(({ code, signal }) => {
    // A SIGKILL after the stop grace period shows here too (and means no CPU profile was written).
    if (code !== 0) process.stderr.write(`${options.name} exited ${code ?? signal}:\n${app.output().slice(-4000)}\n`)
  })
  return app
}
