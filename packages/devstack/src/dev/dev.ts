// `pnpm dev`: the dev stack, then the real api and processor processes against it.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { startDevStack } from '../dev-stack.ts'

const root = new URL('../../../../', import.meta.url).pathname
const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback)

const dataDir = join(root, '.data', 'dev')
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

const children = new Map<string, ChildProcess>()
let stopping = false

function run(name: string, entry: string): void {
  const child = spawn(process.execPath, [join(root, entry)], { env: appEnv, stdio: 'inherit' })
  children.set(name, child)
  child.on('exit', (code, signal) => {
    children.delete(name)
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping everything`)
      void shutdown(1)
    }
  })
}

async function shutdown(exitCode: number): Promise<void> {
  if (stopping) return
  stopping = true
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve())
          child.kill('SIGTERM')
        }),
    ),
  )
  await stack.stop()
  process.exit(exitCode)
}

process.on('SIGINT', () => void shutdown(0))
process.on('SIGTERM', () => void shutdown(0))

run('api', 'apps/api/src/main.ts')
run('processor', 'apps/processor/src/main.ts')

const apiUrl = `http://127.0.0.1:${apiPort}`
const deadline = Date.now() + 30_000
while (Date.now() < deadline && !stopping) {
  const up = await fetch(`${apiUrl}/api/health/readiness`).then((r) => r.ok, () => false)
  if (up) break
  await new Promise((resolve) => setTimeout(resolve, 200))
}

const redacted = stack.database.url.replace(/:[^:@/]*@/, ':***@')
console.log(
  [
    '',
    `api        ${apiUrl}   (OpenAPI ${apiUrl}/api/openapi.json, docs ${apiUrl}/docs)`,
    `processor  polling ${stack.sqs.queueUrl}`,
    `postgres   ${redacted}`,
    `s3         ${stack.s3.endpoint}   bucket ${stack.s3.bucket}`,
    `sqs        ${stack.sqs.endpoint}   dlq ${stack.sqs.dlqUrl}`,
    `cdn        ${stack.cdn.baseUrl}   (CloudFront signed URLs, key pair ${stack.cdn.keyPairId})`,
    `data       ${dataDir}`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n'),
)
