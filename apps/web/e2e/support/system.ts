import { randomBytes } from 'node:crypto'
import {
  type AppProcess,
  appProcessEnv,
  type DevStack,
  findFreePort,
  reservePort,
  startAppProcess,
  startDevStack,
} from '@image-service/devstack'
import { startWebServer, type WebServer } from '../../scripts/web-server.ts'

export type DemoSystem = {
  stack: DevStack
  apiUrl: string
  web: WebServer
  /** Last lines of the api's and processor's output, for a failure report. */
  transcript(lines?: number): string
  stop(): Promise<void>
}

/**
 * What `pnpm dev` runs, on free ports: the dev stack with the bucket's CORS rule for the page's
 * origin, the api (CORS_ORIGINS that origin only, as a deployment lists it; the built-in
 * accounts on) and the processor as processes of their own, and the demo page on Vite's dev server.
 */
export async function startDemoSystem(): Promise<DemoSystem> {
  // The page's port is needed first (the bucket's CORS rule names its origin), so it is held
  // while the dev stack binds its own; the api's is taken once those are bound.
  const webPortHeld = await reservePort()
  const webPort = webPortHeld.port
  const webOrigin = `http://127.0.0.1:${webPort}`
  const stack = await startDevStack({ corsOrigins: [webOrigin] })
  const processes: AppProcess[] = []
  let web: WebServer | undefined
  const stop = async () => {
    if (web === undefined) await webPortHeld.release().catch(() => undefined)
    await web?.stop()
    await Promise.all(processes.map((p) => p.stop()))
    await stack.stop()
  }
  try {
    const apiPort = await findFreePort()
    const apiUrl = `http://127.0.0.1:${apiPort}`
    const env = appProcessEnv(stack, {
      PORT: String(apiPort),
      CORS_ORIGINS: webOrigin,
      AUTH_ACCOUNTS: 'true',
      AUTH_ACCOUNTS_SECRET: randomBytes(32).toString('base64url'),
      AUTH_ACCOUNTS_BASE_URL: apiUrl,
    })
    const api = startAppProcess({ name: 'api', entry: 'apps/api/src/main.ts', env })
    const processor = startAppProcess({ name: 'processor', entry: 'apps/processor/src/main.ts', env })
    processes.push(api, processor)
    await Promise.all([
      api.waitForHttp(`${apiUrl}/api/health/readiness`),
      processor.waitForLog((line) => line.msg === 'processor started', 'start-up log line'),
    ])
    await webPortHeld.release()
    web = await startWebServer({ port: webPort, apiUrl })
    return {
      stack,
      apiUrl,
      web,
      transcript(lines = 40) {
        return processes
          .map((p) => `----- ${p.name}, last ${lines} lines -----\n${p.output().split('\n').slice(-lines).join('\n')}`)
          .join('\n')
      },
      stop,
    }
  } catch (error) {
    const output = processes.map((p) => `----- ${p.name} -----\n${p.output()}`).join('\n')
    await stop().catch(() => undefined)
    throw new Error(`system did not start\n${output}`, { cause: error })
  }
}
