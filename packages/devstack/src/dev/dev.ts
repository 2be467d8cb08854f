// `pnpm dev`: the dev stack, then the real api and processor processes against it.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { redactUrl } from '@image-service/foundation'
import { type AppProcess, startAppProcess } from '../app-process.ts'
import { startDevStack } from '../dev-stack.ts'
import { repoRoot } from '../repo-root.ts'

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback)

const dataDir = join(repoRoot, '.data', 'dev')
await mkdir(dataDir, { recursive: true })
const stack = await startDevStack({
  dataDir,
  ports: { postgres: port('DEV_POSTGRES_PORT', 54320), s3: port('DEV_S3_PORT', 4569), sqs: port('DEV_SQS_PORT', 4576), cdn: port('DEV_CDN_PORT', 4580) },
})

const apiPort = port('PORT', 3000)
const appEnv = {
  ...process.env,
  ...stack.env,
  PORT: String(apiPort),
  // Any origin, so a front end on another local port just works; production lists origins.
  CORS_ORIGINS: process.env.CORS_ORIGINS ?? '*',
  LOG_PRETTY: process.env.LOG_PRETTY ?? 'true',
}

const apps: AppProcess[] = []
let stopping = false

function run(name: string, entry: string): AppProcess {
  const app = startAppProcess({ name, entry, env: appEnv, stdio: 'inherit' })
  apps.push(app)
  void app.exited.then(({ code, signal }) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping everything`)
      void shutdown(1)
    }
  })
  return app
}

async function shutdown(exitCode: number): Promise<void> {
  if (stopping) return
  stopping = true
  await Promise.all(apps.map((app) => app.stop()))
  await stack.stop()
  process.exit(exitCode)
}

process.on('SIGINT', () => void shutdown(0))
process.on('SIGTERM', () => void shutdown(0))

const api = run('api', 'apps/api/src/main.ts')
run('processor', 'apps/processor/src/main.ts')

const apiUrl = `http://127.0.0.1:${apiPort}`
// An api that does not come up has said why on this terminal; the summary below is printed anyway.
await api.waitForHttp(`${apiUrl}/api/health/readiness`).catch(() => undefined)

console.log(
  [
    '',
    `api        ${apiUrl}   (OpenAPI ${apiUrl}/api/openapi.json, docs ${apiUrl}/docs)`,
    `processor  polling ${stack.sqs.queueUrl}`,
    `postgres   ${redactUrl(stack.database.url)}`,
    `s3         ${stack.s3.endpoint}   bucket ${stack.s3.bucket}`,
    `sqs        ${stack.sqs.endpoint}   dlq ${stack.sqs.dlqUrl}`,
    `cdn        ${stack.cdn.baseUrl}   (CloudFront signed URLs, key pair ${stack.cdn.keyPairId})`,
    `data       ${dataDir}`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n'),
)
