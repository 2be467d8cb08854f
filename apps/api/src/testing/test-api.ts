import {
  createTestDatabase,
  type DevIdentityProvider,
  type S3Emulator,
  startDevIdentityProvider,
  startS3Emulator,
  type TestDatabase,
} from '@image-service/devstack'
import {
  type ApiConfig,
  createDatabase,
  createLogger,
  createS3Client,
  createS3ValidationStorage,
  createImageVariants,
  createS3VariantStorage,
  DEFAULT_VARIANT_CONFIG,
  type ImageVariants,
  type Database,
  type ValidationStorage,
  loadConfig,
} from '@image-service/foundation'
import { TEST_IMAGE_LIMITS } from '@image-service/devstack/corpus'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { type ApiApp, buildApp } from '../app.ts'
import { type ApiContainerOptions, createApiContainer } from '../container.ts'

/** The API wired exactly as main.ts wires it, against a fresh test database and S3 emulator. */
export type TestApi = {
  app: ApiApp
  config: ApiConfig
  s3: S3Emulator
  /** Direct access for assertions: the database and the bucket the API uses. */
  database: Database
  storage: ValidationStorage
  /** The processor's variants on the same bucket (default sizes), for specs that run validation. */
  variants: ImageVariants
  /** The emulator's keys, for variants that replace the container options. */
  s3Credentials: { accessKeyId: string; secretAccessKey: string }
  /** The identity provider the API trusts (AUTH_ISSUER, AUTH_JWKS_URL). */
  idp: DevIdentityProvider
  /** A bearer token of the test identity provider for this owner (default `owner-a`). */
  token(subject?: string, options?: { admin?: boolean }): Promise<string>
  /** app.inject with `authorization: Bearer <token of owner>` added (default owner `owner-a`). */
  inject(options: InjectOptions, as?: string | { app?: ApiApp; owner?: string; admin?: boolean }): Promise<LightMyRequestResponse>
  countRecords(): Promise<number>
  /** Another app on the same database and bucket, with configuration or wiring changed. */
  variant(env: Record<string, string>, options?: ApiContainerOptions): Promise<ApiApp>
  close(): Promise<void>
}

export async function startTestApi(serverUrl: string, bucket: string): Promise<TestApi> {
  const testDatabase: TestDatabase = await createTestDatabase(serverUrl)
  const s3 = await startS3Emulator({ buckets: [bucket] })
  const idp = await startDevIdentityProvider({ audience: 'image-service-test' })
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
  const baseEnv: Record<string, string> = {
    LOG_LEVEL: process.env.TEST_API_LOG_LEVEL ?? 'silent',
    DATABASE_URL: testDatabase.url,
    DATABASE_POOL_MAX: '2',
    S3_BUCKET: bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: s3.region,
    CDN_MODE: 's3-presigned',
    AUTH_ISSUER: idp.issuer,
    AUTH_AUDIENCE: idp.audience,
    AUTH_JWKS_URL: idp.jwksUrl,
    // The emulators speak plain http, which production refuses for the CDN.
    NODE_ENV: 'test',
  }
  const closers: (() => Promise<unknown>)[] = []
  const start = async (env: Record<string, string>, options: ApiContainerOptions = { s3Credentials: credentials }) => {
    const config = loadConfig({ ...baseEnv, ...env }, 'api')
    const logger = createLogger({ level: config.log.level })
    const container = createApiContainer(config, logger, options)
    // Records are kept only once the replica hears of their changes: a spec starts from there
    // (not one on a database of its own, which may be down on purpose and never heard).
    if (env.DATABASE_URL === undefined) await container.recordChangesHeard()
    const app = await buildApp({ container, config, logger })
    closers.push(async () => {
      await app.close()
      await container.close()
    })
    return { app, config }
  }

  const { app, config } = await start({})
  const database = createDatabase({ url: testDatabase.url, poolMax: 1 })
  const client = createS3Client({ ...config.storage, credentials })
  const tokens = new Map<string, Promise<string>>()
  const token = (subject = 'owner-a', options: { admin?: boolean } = {}) => {
    const key = `${subject}:${options.admin === true}`
    const cached = tokens.get(key) ?? idp.token({ subject, admin: options.admin === true })
    tokens.set(key, cached)
    return cached
  }
  return {
    app,
    config,
    s3,
    database,
    storage: createS3ValidationStorage({ client, bucket }),
    variants: createImageVariants({
      storage: createS3VariantStorage({ client, bucket }),
      config: DEFAULT_VARIANT_CONFIG,
      limitInputPixels: TEST_IMAGE_LIMITS.maxTotalPixels,
    }),
    s3Credentials: credentials,
    idp,
    token,
    async inject(options, as) {
      const who = typeof as === 'string' ? { owner: as } : (as ?? {})
      const authorization = `Bearer ${await token(who.owner, { admin: who.admin === true })}`
      return (who.app ?? app).inject({ ...options, headers: { authorization, ...options.headers } })
    },
    async countRecords() {
      const rows = await database.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM image_records`
      return rows[0]?.count ?? 0
    },
    variant: async (env, options) => (await start(env, options)).app,
    async close() {
      for (const close of closers) await close()
      client.destroy()
      await database.close()
      await s3.stop()
      await idp.stop()
      await testDatabase.drop()
    },
  }
}
