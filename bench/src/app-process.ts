import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

export const repoRoot = new URL('../../', import.meta.url).pathname

export type AppProcess = {
  readonly child: ChildProcess
  /** SIGTERM, then wait for exit (the apps drain and exit 0; a CPU profile is written then). */
  stop(): Promise<number | null>
}

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
  const args: string[] = []
  if (options.cpuProfileDir !== undefined) {
    mkdirSync(options.cpuProfileDir, { recursive: true })
    args.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, `--cpu-prof-name=${options.name}-${Date.now()}.cpuprofile`)
  }
  const child = spawn(process.execPath, [...args, join(repoRoot, options.entry)], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.once('exit', (code, signal) => {
    if (code !== 0 && code !== null && stderr) process.stderr.write(`${options.name} exited ${code ?? signal}:\n${stderr}\n`)
  })
  return {
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill('SIGTERM')
      return exited
    },
  }
}

/** Polls until `url` answers 2xx, or fails (naming the app) after the deadline or on an early exit. */
export async function waitUntilUp(app: AppProcess, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (app.child.exitCode !== null) throw new Error(`app exited with ${app.child.exitCode} before answering ${url}`)
    const ok = await fetch(url).then((r) => r.ok, () => false)
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms`)
}
