import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { repoRoot } from './repo-root.ts'
import { waitFor } from './wait-for.ts'

export type LogLine = Record<string, unknown> & { msg?: string }
export type AppExit = { code: number | null; signal: NodeJS.Signals | null }

export type StartAppProcessOptions = {
  name: string
  /** The entry file, repository-relative (apps/api/src/main.ts) or absolute. */
  entry: string
  /** The process's whole environment: nothing of this process's leaks in unless passed. */
  env: Record<string, string | undefined>
  /** Flags for node itself, e.g. --cpu-prof. */
  nodeArgs?: string[]
  /**
   * `capture` (the default) keeps every line for output() and logs(); `inherit` shares this
   * terminal (pnpm dev); `discard` drops stdout, still written by the app but never parsed
   * here (benchmarks), and keeps stderr only.
   */
  stdio?: 'capture' | 'inherit' | 'discard'
}

export type AppProcess = {
  readonly name: string
  readonly pid: number
  /** Everything captured so far (stdout and stderr, interleaved), for failure reports. */
  output(): string
  /** stdout lines that are JSON objects (pino writes one per log call). */
  logs(): LogLine[]
  waitForLog(predicate: (line: LogLine) => boolean, description: string, timeoutMs?: number): Promise<LogLine>
  /** Until `url` answers 2xx; rejects (with the output) as soon as the process exits. */
  waitForHttp(url: string, timeoutMs?: number): Promise<void>
  /** The promise's outcome, or a rejection (with the output) as soon as the process exits. */
  whileRunning<T>(promise: Promise<T>, description: string): Promise<T>
  readonly exited: Promise<AppExit>
  /** Sends the signal and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<AppExit>
  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  stop(graceMs?: number): Promise<AppExit>
}

/**
 * The apps must run on Node 24 (type stripping). Vitest usually runs on it already; when
 * not, the workspace's pinned binary is used, as `pnpm` scripts would.
 */
function nodeBinary(): string {
  const major = Number(process.versions.node.split('.')[0])
  return major >= 24 ? process.execPath : path.join(repoRoot, 'node_modules', '.bin', 'node')
}

/** Starts `node <entry>` the way the containers do: its own process, configured by its environment. */
/**
 * The environment of an api or processor started against a dev stack by a test: only what the
 * apps need (nothing of the runner's environment leaks into them), the stack's variables, JSON
 * logs at info, a 1 s long poll (quick shutdowns) and the processor's /metrics on a free port,
 * then `extra`.
 */
export function appProcessEnv(stack: { env: Record<string, string> }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    TMPDIR: process.env.TMPDIR ?? '/tmp',
    ...stack.env,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    SQS_WAIT_TIME_SECONDS: '1',
    PROCESSOR_HTTP_PORT: '0',
    ...extra,
  }
}

export function startAppProcess(options: StartAppProcessOptions): AppProcess {
  const mode = options.stdio ?? 'capture'
  const child: ChildProcess = spawn(nodeBinary(), [...(options.nodeArgs ?? []), path.resolve(repoRoot, options.entry)], {
    cwd: repoRoot,
    env: options.env,
    stdio: mode === 'inherit' ? 'inherit' : ['ignore', mode === 'capture' ? 'pipe' : 'ignore', 'pipe'],
  })
  if (child.pid === undefined) throw new Error(`${options.name} did not start`)
  const transcript: string[] = []
  const parsed: LogLine[] = []
  capture(child.stdout, (line) => {
    transcript.push(line)
    const json = parseJsonObject(line)
    if (json) parsed.push(json)
  })
  capture(child.stderr, (line) => transcript.push(`[stderr] ${line}`))

  let exitedYet = false
  const exited = new Promise<AppExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedYet = true
      resolve({ code, signal })
    })
  })
  // Waiting on a process that has died would only end at the deadline: fail at once instead.
  const exitedEarly = exited.then(({ code, signal }) => {
    throw new Error(`${options.name} exited (${signal ?? code})\n${transcript.join('\n')}`)
  })
  exitedEarly.catch(() => undefined)

  const self: AppProcess = {
    name: options.name,
    pid: child.pid,
    output: () => transcript.join('\n'),
    logs: () => [...parsed],
    waitForLog(predicate, description, timeoutMs = 30_000) {
      const found = waitFor(() => parsed.find(predicate), { timeoutMs, intervalMs: 10, description: `${options.name}: ${description}` })
      return self.whileRunning(found, description)
    },
    waitForHttp(url, timeoutMs = 30_000) {
      const answered = (async () => {
        const deadline = Date.now() + timeoutMs
        for (;;) {
          if (exitedYet) return exitedEarly
          if (
            await fetch(url).then(
              (r) => r.ok,
              () => false,
            )
          )
            return
          if (Date.now() >= deadline) throw new Error(`${options.name}: no 2xx from ${url} within ${timeoutMs} ms\n${self.output()}`)
          await delay(50)
        }
      })()
      return self.whileRunning(answered, `${url} to answer`)
    },
    whileRunning(promise, description) {
      return Promise.race([
        promise,
        exitedEarly.catch((error: Error) => Promise.reject(new Error(`${error.message}\nwhile waiting for ${description}`))),
      ])
    },
    exited,
    kill(signal) {
      if (!exitedYet) child.kill(signal)
      return exited
    },
    async stop(graceMs = 10_000) {
      if (exitedYet) return exited
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const exit = await exited
      clearTimeout(timer)
      return exit
    },
  }
  return self
}

function capture(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return
  let pending = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) if (line.length > 0) onLine(line)
  })
  stream.on('end', () => {
    if (pending.length > 0) onLine(pending)
  })
}

function parseJsonObject(line: string): LogLine | undefined {
  try {
    const value: unknown = JSON.parse(line)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as LogLine) : undefined
  } catch {
    return undefined
  }
}
