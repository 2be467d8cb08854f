import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '@image-service/foundation'
import { describe, expect, it } from 'vitest'
import {
  baseImages,
  containerPort,
  dependsOn,
  envOf,
  finalStage,
  interpolate,
  parseCompose,
  parseDockerfile,
  publishedHostIp,
  REPO_ROOT,
  readRepoFile,
  serviceEnv,
} from './deploy-files.ts'

// No Docker engine in CI: the files are parsed and their wiring checked against the Config schema.
const compose = parseCompose(readRepoFile('docker-compose.yml'))
const service = (name: string) => {
  const found = compose.services[name]
  if (found === undefined) throw new Error(`docker-compose.yml has no service ${name}`)
  return found
}
const SECRET_NAME = /KEY|SECRET|PASSWORD|TOKEN/
// A tag naming the Debian release (a bare `node:24-slim` changes distribution under us), pinned
// by an image index digest: docs/operations.md, "Base images".
const NODE_BASE_IMAGE = /^node:24-[a-z]+-slim@sha256:[0-9a-f]{64}$/

/** What an operator must put in the environment (or an .env file) before `docker compose up`. */
const OPERATOR_SECRETS = { AUTH_ACCOUNTS_SECRET: 'an-operator-chosen-secret-of-32-bytes+' }

describe('docker-compose.yml', () => {
  it.each([
    ['api', 'api'],
    ['processor', 'processor'],
    ['migrate', 'migrate'],
  ] as const)('gives %s every variable loadConfig(env, %j) requires', (name, section) => {
    expect(() => loadConfig(serviceEnv(service(name), OPERATOR_SECRETS), section)).not.toThrow()
  })

  it('makes the operator choose the accounts secret: compose refuses to start without one', () => {
    expect(() => serviceEnv(service('api'))).toThrow('AUTH_ACCOUNTS_SECRET is required')
    expect(serviceEnv(service('api'), OPERATOR_SECRETS)).toMatchObject({
      AUTH_ACCOUNTS: 'true',
      AUTH_ACCOUNTS_SECRET: OPERATOR_SECRETS.AUTH_ACCOUNTS_SECRET,
    })
  })

  it('publishes the port the api listens on (all interfaces inside its container)', () => {
    const { http } = loadConfig(serviceEnv(service('api'), OPERATOR_SECRETS), 'api').api
    expect(http.host).toBe('0.0.0.0')
    expect((service('api').ports ?? []).map((p) => containerPort(p))).toEqual([http.port])
  })

  it("publishes every port on the loopback interface only, never on the host's network", () => {
    // MinIO's API and console take the root credentials; the api has no TLS of its own.
    const published = Object.entries(compose.services).flatMap(([name, svc]) => (svc.ports ?? []).map((p) => [name, p] as const))
    expect(published.map(([name]) => name)).toContain('api')
    for (const [name, mapping] of published) expect(publishedHostIp(mapping), `${name} ${mapping}`).toBe('127.0.0.1')
  })

  it('health-checks postgres, the api, the processor, storage and the queue', () => {
    for (const name of ['postgres', 'api', 'processor', 's3', 'sqs']) {
      const check = service(name).healthcheck
      expect(check?.disable, name).not.toBe(true)
      expect(check?.test?.length, name).toBeGreaterThan(0)
    }
    expect(JSON.stringify(service('api').healthcheck?.test)).toContain('/api/health/liveness')
    expect(JSON.stringify(service('postgres').healthcheck?.test)).toContain('pg_isready')
    const { http } = loadConfig(serviceEnv(service('processor')), 'processor').processor
    expect(JSON.stringify(service('processor').healthcheck?.test)).toContain(`127.0.0.1:${http.port}/health/liveness`)
  })

  it("publishes the port of the processor's /metrics and /health, on all of its interfaces", () => {
    const { http } = loadConfig(serviceEnv(service('processor')), 'processor').processor
    expect(http.host).toBe('0.0.0.0')
    expect((service('processor').ports ?? []).map((p) => containerPort(p))).toEqual([http.port])
  })

  it('runs migrate to completion, from the api image, before the apps start on a healthy database', () => {
    const migrate = service('migrate')
    expect(migrate.entrypoint).toEqual(['node', 'migrations/src/cli.ts'])
    expect(migrate.build?.dockerfile).toBe(service('api').build?.dockerfile)
    expect(dependsOn(migrate)).toMatchObject({ postgres: 'service_healthy' })
    for (const app of ['api', 'processor']) {
      expect(dependsOn(service(app)), app).toMatchObject({
        postgres: 'service_healthy',
        migrate: 'service_completed_successfully',
        's3-init': 'service_completed_successfully',
      })
    }
  })

  it('only waits on services that exist, and on health only where a health check is declared', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [dep, condition] of Object.entries(dependsOn(svc))) {
        expect(compose.services, `${name} -> ${dep}`).toHaveProperty([dep])
        if (condition === 'service_healthy') expect(service(dep).healthcheck?.test, `${name} -> ${dep}`).toBeDefined()
      }
    }
  })

  it('creates the bucket the apps use, notifies uploads/ to the queue the processor reads, with a DLQ after 5 receives', () => {
    const config = loadConfig(serviceEnv(service('processor')), 'processor')
    const init = interpolate([service('s3-init').entrypoint ?? []].flat().join('\n'))
    expect(init).toContain(`mc mb --ignore-existing local/${config.storage.bucket}`)
    expect(init).toMatch(new RegExp(`mc event add .*local/${config.storage.bucket} .*--event put --prefix uploads/`))
    expect(loadConfig(serviceEnv(service('api'), OPERATOR_SECRETS), 'api').storage.bucket).toBe(config.storage.bucket)

    const fauxqs = JSON.parse(readRepoFile('deploy/compose/fauxqs-init.json')) as {
      queues: { name: string; attributes?: Record<string, string> }[]
    }
    const queueName = config.processor.queue.url.split('/').pop()
    const queue = fauxqs.queues.find((q) => q.name === queueName)
    const redrive = JSON.parse(queue?.attributes?.RedrivePolicy ?? '{}') as Record<string, string>
    expect(Number(redrive.maxReceiveCount)).toBe(5)
    expect(fauxqs.queues.map((q) => `arn:aws:sqs:us-east-1:000000000000:${q.name}`)).toContain(redrive.deadLetterTargetArn)
    expect(serviceEnv(service('s3-events')).SQS_QUEUE_URL).toBe(config.processor.queue.url)
  })

  it('keeps every secret overridable from the environment, never a fixed literal', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      const raw = serviceEnv(svc, new Proxy({}, { get: (_t, key) => `<${String(key)}>` }))
      for (const [key, value] of Object.entries(raw)) {
        if (SECRET_NAME.test(key) && !key.endsWith('_KEY_ID')) expect(value, `${name}.${key}`).toMatch(/^<[A-Z_]+>$/)
      }
      const url = raw.DATABASE_URL
      if (url !== undefined) expect(new URL(url).password, `${name}.DATABASE_URL`).toMatch(/^%3C[A-Z_]+%3E$/)
    }
  })
})

const workspaceDir = (pkg: string) =>
  ['apps', 'packages']
    .flatMap((root) => readdirSync(join(REPO_ROOT, root)).map((d) => `${root}/${d}`))
    .concat('migrations')
    .find((dir) => existsSync(join(REPO_ROOT, dir, 'package.json')) && JSON.parse(readRepoFile(`${dir}/package.json`)).name === pkg)

/** Workspace packages an app needs at run time: its production dependencies, transitively. */
function runtimeWorkspaceDirs(dir: string, seen = new Set<string>()): Set<string> {
  seen.add(dir)
  const deps = (JSON.parse(readRepoFile(`${dir}/package.json`)) as { dependencies?: Record<string, string> }).dependencies ?? {}
  for (const [name, range] of Object.entries(deps)) {
    const depDir = range.startsWith('workspace:') ? workspaceDir(name) : undefined
    if (depDir !== undefined && !seen.has(depDir)) runtimeWorkspaceDirs(depDir, seen)
  }
  return seen
}

// The api image also runs the migrations (compose's migrate service uses it).
describe.each([
  { app: 'api', extra: ['migrations'] },
  { app: 'processor', extra: [] },
])('apps/$app/Dockerfile', ({ app, extra }: { app: string; extra: string[] }) => {
  const instructions = parseDockerfile(readRepoFile(`apps/${app}/Dockerfile`))
  const final = finalStage(instructions)
  const args = (keyword: string, from = final) => from.filter((i) => i.keyword === keyword).map((i) => i.args)

  it('ships Node.js 24 slim on a named Debian release, running as a non-root user, in production mode, listening on all interfaces', () => {
    expect(args('FROM')[0]).toMatch(/^\S+ AS runtime$/i)
    expect(baseImages(instructions).at(-1)).toMatch(NODE_BASE_IMAGE)
    const user = args('USER').at(-1)
    expect(user).toBeDefined()
    expect(user).not.toMatch(/^(root|0)(:|$)/)
    const env = Object.assign({}, ...final.filter((i) => i.keyword === 'ENV').map(envOf)) as Record<string, string>
    expect(env).toMatchObject({ NODE_ENV: 'production', HOST: '0.0.0.0' })
  })

  it('builds every stage from one base image, pinned by a sha256 digest', () => {
    const images = baseImages(instructions)
    expect(images.length).toBeGreaterThan(1)
    expect(new Set(images).size).toBe(1)
    for (const image of images) expect(image).toMatch(NODE_BASE_IMAGE)
  })

  it('starts node directly (exec form) on the app entry point, so SIGTERM reaches it', () => {
    const entrypoint = JSON.parse(args('ENTRYPOINT').at(-1) ?? 'null') as unknown
    // The tracing preload runs first; it does nothing unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
    expect(entrypoint).toEqual(['node', '--import', './packages/foundation/src/tracing-preload.ts', `apps/${app}/src/main.ts`])
    expect(args('CMD')).toEqual([])
    expect(existsSync(join(REPO_ROOT, `apps/${app}/src/main.ts`))).toBe(true)
  })

  it('installs production dependencies from the lockfile, frozen', () => {
    expect(args('COPY', instructions).some((a) => a.split(/\s+/).includes('pnpm-lock.yaml'))).toBe(true)
    const install = args('RUN', instructions).find((a) => a.includes('pnpm install')) ?? ''
    expect(install).toContain('--frozen-lockfile')
    expect(install).toContain('--prod')
    expect(install).toContain(`--filter "@image-service/${app}..."`)
  })

  it('copies the manifest and sources of every workspace package it runs', () => {
    const copies = args('COPY', instructions).filter((a) => !a.startsWith('--from'))
    for (const dir of [...runtimeWorkspaceDirs(`apps/${app}`), ...extra]) {
      expect(copies, dir).toContain(`${dir}/package.json ${dir}/`)
      expect(copies, dir).toContain(`${dir}/src ${dir}/src`)
    }
  })

  it('bakes no secret into the image', () => {
    for (const i of instructions.filter((x) => x.keyword === 'ENV' || x.keyword === 'ARG')) {
      for (const key of Object.keys(envOf(i))) expect(key).not.toMatch(SECRET_NAME)
    }
  })
})

describe('base images', () => {
  it('are the same for the api and the processor, so one update covers both', () => {
    const base = (app: string) => baseImages(parseDockerfile(readRepoFile(`apps/${app}/Dockerfile`)))
    expect(base('processor')).toEqual(base('api'))
  })
})

describe('apps/api/Dockerfile health check', () => {
  it('probes the liveness route with node (slim images have no curl)', () => {
    const check = finalStage(parseDockerfile(readRepoFile('apps/api/Dockerfile'))).filter((i) => i.keyword === 'HEALTHCHECK')
    expect(check).toHaveLength(1)
    expect(check[0]?.args).toMatch(/CMD \["node",/)
    expect(check[0]?.args).toContain('/api/health/liveness')
  })
})

describe('apps/processor/Dockerfile health check', () => {
  const final = finalStage(parseDockerfile(readRepoFile('apps/processor/Dockerfile')))
  const env = Object.assign({}, ...final.filter((i) => i.keyword === 'ENV').map(envOf)) as Record<string, string>

  it('probes /health/liveness on PROCESSOR_HTTP_PORT with node (slim images have no curl)', () => {
    const check = final.filter((i) => i.keyword === 'HEALTHCHECK')
    expect(check).toHaveLength(1)
    expect(check[0]?.args).toMatch(/CMD \["node",/)
    expect(check[0]?.args).toContain('process.env.PROCESSOR_HTTP_PORT')
    expect(check[0]?.args).toContain('/health/liveness')
  })

  it('exposes the port the processor serves /metrics and /health on', () => {
    const required = { DATABASE_URL: 'postgres://x', S3_BUCKET: 'b', SQS_QUEUE_URL: 'q' }
    const port = loadConfig({ ...required, ...env }, 'processor').processor.http.port
    expect(final.filter((i) => i.keyword === 'EXPOSE').map((i) => i.args)).toEqual([String(port)])
    expect(port).toBe(loadConfig(required, 'processor').processor.http.port)
  })
})

describe('.dockerignore', () => {
  it('keeps local state and build output out of the build context', () => {
    const lines = readRepoFile('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
    for (const name of ['node_modules', '.data', 'dist', '.turbo', 'coverage']) expect(lines).toContain(`**/${name}`)
    expect(lines).toContain('.git')
  })
})
