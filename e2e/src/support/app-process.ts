import { type ChildProcess, spawn } from 'node:child_process'
import path from 'node:path'
import { repoRoot, waitFor } from '@image-service/devstack'

export type LogLine = Record<string, unknown> & { msg?: string }

export type AppProcess = {
  readonly name: string
  readonly pid: number
  /** Everything the process wrote so far (stdout and stderr, interleaved), for failure reports. */
  output(): string
  /** stdout lines that are JSON objects (pino writes one per log call). */
  logs(): LogLine[]
  waitForLog(predicate: (line: LogLine) => boolean, description: string, timeoutMs?: number): Promise<LogLine>
  /** The promise's outcome, or a rejection (with the output) as soon as the process exits. */
  whileRunning<T>(promise: Promise<T>, description: string): Promise<T>
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Sends the signal and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>
  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  stop(graceMs?: number): Promise<void>
}

/**
 * The apps must run on Node 24 (type stripping). Vitest usually runs on it already; when
 * not, the workspace's pinned binary is used, as `pnpm` scripts would.
 */
function nodeBinary(): string {
  const major = Number(process.versions.node.split('.')[0])
  return major >= 24 ? process.execPath : path.join(repoRoot, 'node_modules', '.bin', 'node')
}

/** Starts `node <entry>` the way the containers do, capturing its output line by line. */
export function startAppProcess(options: { name: string; entry: string; env: Record<string, string> }): AppProcess {
  const child: ChildProcess = spawn(nodeBinary(), [path.join(repoRoot, options.entry)], {
    cwd: repoRoot,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
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

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  let exitedYet = false
  void exited.then(() => {
    exitedYet = true
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
    whileRunning(promise, description) {
      return Promise.race([promise, exitedEarly.catch((error: Error) => Promise.reject(new Error(`${error.message}\nwhile waiting for ${description}`)))])
    },
    exited,
    async kill(signal) {
      if (!exitedYet) child.kill(signal)
      await exited
    },
    async stop(graceMs = 10_000) {
      if (exitedYet) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
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
