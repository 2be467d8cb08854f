// `pnpm dev`: the dev stack, then the real api and processor processes against it.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { redactUrl } from '@image-service/foundation'
import { type AppProcess, startAppProcess } from '../app-process.ts'
import { startDevStack } from '../dev-stack.ts'
import { loadOrCreateDevAccountsSecret } from './accounts-secret.ts'
import { devDataDir as dataDir } from './paths.ts'

const port = (name: string, fallback: number) => Number(process.env[name] ?? fallback)

await mkdir(dataDir, { recursive: true })
const accountsSecret = await loadOrCreateDevAccountsSecret(join(dataDir, 'accounts-secret'))
const webPort = port('WEB_PORT', 5173)
const webUrl = `http://127.0.0.1:${webPort}`
const stack = await startDevStack({
  dataDir,
  // The demo page PUTs files straight to the bucket, so the bucket answers CORS for its origin.
  corsOrigins: [webUrl, `http://localhost:${webPort}`],
  ports: {
    postgres: port('DEV_POSTGRES_PORT', 54320),
    s3: port('DEV_S3_PORT', 4569),
    sqs: port('DEV_SQS_PORT', 4576),
    cdn: port('DEV_CDN_PORT', 4580),
    // A fixed port keeps the issuer (http://127.0.0.1:<port>) the same across restarts, so
    // tokens printed earlier, and those of `pnpm run token`, stay valid.
    identity: port('DEV_IDP_PORT', 4590),
    fal: port('DEV_FAL_PORT', 4595),
  },
})

const apiPort = port('PORT', 3000)
const processorPort = port('PROCESSOR_HTTP_PORT', 3001)
const apiUrl = `http://127.0.0.1:${apiPort}`
const appEnv = {
  ...process.env,
  ...stack.env,
  PORT: String(apiPort),
  PROCESSOR_HTTP_PORT: String(processorPort),
  // The built-in accounts next to the dev issuer, so both sign-in paths can be tried locally.
  AUTH_ACCOUNTS: 'true',
  AUTH_ACCOUNTS_SECRET: accountsSecret,
  AUTH_ACCOUNTS_BASE_URL: apiUrl,
  // Any origin, so a front end on another local port just works; production lists origins.
  CORS_ORIGINS: process.env.CORS_ORIGINS ?? '*',
  LOG_PRETTY: process.env.LOG_PRETTY ?? 'true',
}

const apps: AppProcess[] = []
let stopping = false

function run(name: string, entry: string, env: Record<string, string | undefined> = appEnv): AppProcess {
  const app = startAppProcess({ name, entry, env, stdio: 'inherit' })
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

// An api that does not come up has said why on this terminal; the summary below is printed anyway.
await api.waitForHttp(`${apiUrl}/api/health/readiness`).catch(() => undefined)

const tokenHours = 12
const token = await stack.identity.token({ subject: 'dev-user', expiresInSeconds: tokenHours * 3600 })
const processorUrl = `http://127.0.0.1:${processorPort}`
// The demo page starts with the api's address and this token filled in.
const web = run('web', 'apps/web/scripts/dev-server.ts', { ...process.env, WEB_PORT: String(webPort), API_URL: apiUrl, DEV_TOKEN: token })
await web.waitForHttp(webUrl).catch(() => undefined)
console.log(
  [
    '',
    `web        ${webUrl}   (demo page: sign in with the token below, then upload images)`,
    `api        ${apiUrl}   (OpenAPI ${apiUrl}/api/openapi.json, docs ${apiUrl}/docs, metrics ${apiUrl}/metrics)`,
    `accounts   ${apiUrl}/api/auth/*   (built-in accounts: sign up with an email and a password)`,
    `identity   ${stack.identity.issuer}   (dev issuer, audience ${stack.identity.audience}, JWKS ${stack.identity.jwksUrl})`,
    `processor  polling ${stack.sqs.queueUrl}   (metrics ${processorUrl}/metrics, health ${processorUrl}/health/readiness)`,
    `postgres   ${redactUrl(stack.database.url)}`,
    `s3         ${stack.s3.endpoint}   bucket ${stack.s3.bucket}`,
    `sqs        ${stack.sqs.endpoint}   dlq ${stack.sqs.dlqUrl}`,
    `jobs       ${stack.sqs.jobsQueueUrl}   dlq ${stack.sqs.jobsDlqUrl}`,
    `fal        ${stack.fal.baseUrl}   (fal.ai emulator: FAL_BASE_URL; webhook keys ${stack.fal.jwksUrl})`,
    `cdn        ${stack.cdn.baseUrl}   (CloudFront signed URLs, key pair ${stack.cdn.keyPairId})`,
    `data       ${dataDir}`,
    '',
    `A token for subject dev-user, valid ${tokenHours} hours (more: pnpm -s run token <subject> [--admin]):`,
    `export TOKEN=${token}`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n'),
)
