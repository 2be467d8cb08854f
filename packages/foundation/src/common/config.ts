import { readFileSync } from 'node:fs'
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

/**
 * Every environment variable the project reads, declared once. The schema gives the types,
 * the defaults, the start-up validation and the README's configuration table.
 */
const Str = (description: string, options: { default?: string; minLength?: number } = {}) =>
  Type.String({ minLength: 1, ...options, description })
const Int = (description: string, options: { default?: number; minimum?: number; maximum?: number } = {}) =>
  Type.Integer({ minimum: 0, ...options, description })
const Bool = (description: string, value: boolean) => Type.Boolean({ default: value, description })

export const EnvSchema = Type.Object({
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), {
    default: 'info',
    description: 'pino log level',
  }),
  LOG_PRETTY: Bool('Human-readable logs instead of JSON lines', false),
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'production',
    description: '`production` refuses development-only settings (CORS `*`, a plain-http CDN); `development` and `test` allow them',
  }),
  DATABASE_URL: Str('PostgreSQL connection string (postgres://user:pass@host:port/db)'),
  DATABASE_POOL_MAX: Int('Connections per process in the PostgreSQL pool', { default: 10, minimum: 1 }),
  AWS_REGION: Str('Region of the S3 bucket and SQS queue', { default: 'us-east-1' }),
  S3_BUCKET: Str('Bucket that receives uploads (object keys are uploads/{image_id})'),
  S3_ENDPOINT: Type.Optional(Str('Custom S3 endpoint (MinIO, SeaweedFS, Ceph RGW, emulator); unset for AWS')),
  S3_FORCE_PATH_STYLE: Bool('Path-style bucket addressing, needed by most S3-compatible servers', false),
  MAX_UPLOAD_BYTES: Int('Largest accepted upload, inclusive', { default: 10_485_760, minimum: 1 }),
  UPLOAD_URL_TTL_SECONDS: Int('Lifetime of a presigned upload URL', { default: 300, minimum: 1, maximum: 604_800 }),
  // api
  HOST: Str('Address the API listens on', { default: '127.0.0.1' }),
  PORT: Int('Port the API listens on', { default: 3000, maximum: 65_535 }),
  CORS_ORIGINS: Type.String({
    default: '',
    description: 'Comma-separated origins allowed by CORS; `*` allows any (development only); empty allows none',
  }),
  REQUEST_TIMEOUT_SECONDS: Int('Longest time the API waits for a whole request (headers and body) before answering 408', {
    default: 30,
    minimum: 1,
  }),
  METRICS_TOKEN: Type.Optional(Str('Bearer token that GET /metrics requires (secret); unset leaves /metrics public')),
  DOWNLOAD_URL_TTL_SECONDS: Int('Lifetime of a signed download URL', { default: 600, minimum: 1, maximum: 604_800 }),
  SIGNED_URL_WINDOW_SECONDS: Int('Download URL expiries are aligned to windows of this size and cached; 0 disables', {
    default: 300,
  }),
  SIGNED_URL_CACHE_SIZE: Int('Signed download URLs kept in the in-process cache', { default: 100_000 }),
  CDN_MODE: Type.Union([Type.Literal('cloudfront'), Type.Literal('s3-presigned')], {
    default: 'cloudfront',
    description: '`cloudfront` signs CloudFront URLs; `s3-presigned` presigns S3 GETs (no CDN)',
  }),
  CDN_BASE_URL: Type.Optional(Str('CloudFront distribution URL, e.g. https://d111111abcdef8.cloudfront.net; api, required in cloudfront mode')),
  CLOUDFRONT_KEY_PAIR_ID: Type.Optional(Str('Public key id in the trusted key group; api, required in cloudfront mode')),
  CLOUDFRONT_PRIVATE_KEY: Type.Optional(Str('PEM private key that signs CloudFront URLs (secret); api, this or the _FILE variant in cloudfront mode')),
  CLOUDFRONT_PRIVATE_KEY_FILE: Type.Optional(Str('Path of a file holding that PEM key, instead of CLOUDFRONT_PRIVATE_KEY')),
  // processor
  SQS_QUEUE_URL: Type.Optional(Str('Queue that receives S3 ObjectCreated events; required by the processor')),
  SQS_ENDPOINT: Type.Optional(Str('Custom SQS endpoint (ElasticMQ, emulator); unset for AWS')),
  SQS_WAIT_TIME_SECONDS: Int('Long-poll wait of each receive', { default: 20, maximum: 20 }),
  SQS_BATCH_SIZE: Int('Messages per receive', { default: 10, minimum: 1, maximum: 10 }),
  PROCESSOR_HTTP_PORT: Int('Port of the processor\'s /metrics and /health endpoints', { default: 3001, maximum: 65_535 }),
  PROCESSOR_CONCURRENCY: Int('Uploads validated at once per processor', { default: 4, minimum: 1 }),
  MAX_FRAME_PIXELS: Int('Largest width x height of one frame (and of the container canvas)', { default: 50_000_000, minimum: 1 }),
  MAX_FRAMES: Int('Most frames in an animated image', { default: 1000, minimum: 1 }),
  MAX_TOTAL_PIXELS: Int('Most pixels over all frames', { default: 250_000_000, minimum: 1 }),
})
export type Env = Static<typeof EnvSchema>

export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export type ConfigSection = 'api' | 'processor' | 'migrate'
type Section = ConfigSection

/** Variables that have no default but are needed by one app only. */
const requiredFor: Record<Section, (keyof Env)[]> = {
  api: [],
  processor: ['SQS_QUEUE_URL'],
  migrate: [],
}

function describe(schema: TSchema, path: string, value: unknown, message: string): string {
  const name = path.replace(/^\//, '')
  if (value === undefined) return `${name} is required (${schema.description ?? 'no description'})`
  return `${name} ${message}; got ${JSON.stringify(name.includes('KEY') ? '[redacted]' : value)}`
}

export function parseEnv(source: Record<string, string | undefined>, section: Section = 'api'): Env {
  // Empty strings count as unset, as most deployment tools write them for "no value".
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const withDefaults = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw))
  const problems: string[] = []
  for (const error of Value.Errors(EnvSchema, withDefaults)) {
    const key = error.path.split('/')[1] as keyof typeof EnvSchema.properties
    if (problems.some((p) => p.startsWith(`${key} `))) continue
    problems.push(describe(EnvSchema.properties[key] ?? error.schema, `/${key}`, raw[key], error.message.toLowerCase()))
  }
  const env = withDefaults as Env
  for (const key of requiredFor[section]) {
    if (env[key] === undefined) problems.push(describe(EnvSchema.properties[key], `/${key}`, undefined, ''))
  }
  if (section === 'api' && env.CDN_MODE === 'cloudfront') {
    for (const key of ['CDN_BASE_URL', 'CLOUDFRONT_KEY_PAIR_ID'] as const) {
      if (env[key] === undefined) problems.push(`${key} is required when CDN_MODE=cloudfront`)
    }
    if (env.CLOUDFRONT_PRIVATE_KEY === undefined && env.CLOUDFRONT_PRIVATE_KEY_FILE === undefined) {
      problems.push('CLOUDFRONT_PRIVATE_KEY or CLOUDFRONT_PRIVATE_KEY_FILE is required when CDN_MODE=cloudfront')
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return env
}

export type StorageConfig = {
  region: string
  bucket: string
  endpoint: string | undefined
  forcePathStyle: boolean
}

export type UploadConfig = { uploadUrlTtlSeconds: number; maxUploadBytes: number }

export type ImageLimits = { maxUploadBytes: number; maxFramePixels: number; maxFrames: number; maxTotalPixels: number }

export type CdnConfig =
  | {
      mode: 'cloudfront'
      baseUrl: string
      keyPairId: string
      privateKey: string
      ttlSeconds: number
      windowSeconds: number
      cacheSize: number
    }
  | { mode: 's3-presigned'; ttlSeconds: number; windowSeconds: number; cacheSize: number }

export type Config = {
  env: Env
  log: { level: Env['LOG_LEVEL']; pretty: boolean }
  database: { url: string; poolMax: number }
  storage: StorageConfig
  upload: UploadConfig
  limits: ImageLimits
  nodeEnv: Env['NODE_ENV']
  http: { host: string; port: number; corsOrigins: string[]; requestTimeoutSeconds: number; metricsToken: string | undefined }
  processorHttp: { port: number }
  cdn: CdnConfig
  queue: { queueUrl: string; endpoint: string | undefined; waitTimeSeconds: number; batchSize: number; concurrency: number }
}

/** Loads and validates the configuration; throws one ConfigError naming every problem. */
export function loadConfig(source: Record<string, string | undefined> = process.env, section: Section = 'api'): Config {
  const env = parseEnv(source, section)
  const cdnCommon = {
    ttlSeconds: env.DOWNLOAD_URL_TTL_SECONDS,
    windowSeconds: env.SIGNED_URL_WINDOW_SECONDS,
    cacheSize: env.SIGNED_URL_CACHE_SIZE,
  }
  let cdn: CdnConfig = { mode: 's3-presigned', ...cdnCommon }
  if (env.CDN_MODE === 'cloudfront' && section === 'api') {
    cdn = {
      mode: 'cloudfront',
      baseUrl: (env.CDN_BASE_URL ?? '').replace(/\/+$/, ''),
      keyPairId: env.CLOUDFRONT_KEY_PAIR_ID ?? '',
      privateKey: env.CLOUDFRONT_PRIVATE_KEY ?? readPrivateKey(env.CLOUDFRONT_PRIVATE_KEY_FILE ?? ''),
      ...cdnCommon,
    }
  }
  return {
    env,
    log: { level: env.LOG_LEVEL, pretty: env.LOG_PRETTY },
    database: { url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX },
    storage: {
      region: env.AWS_REGION,
      bucket: env.S3_BUCKET,
      endpoint: env.S3_ENDPOINT,
      forcePathStyle: env.S3_FORCE_PATH_STYLE,
    },
    upload: { uploadUrlTtlSeconds: env.UPLOAD_URL_TTL_SECONDS, maxUploadBytes: env.MAX_UPLOAD_BYTES },
    limits: {
      maxUploadBytes: env.MAX_UPLOAD_BYTES,
      maxFramePixels: env.MAX_FRAME_PIXELS,
      maxFrames: env.MAX_FRAMES,
      maxTotalPixels: env.MAX_TOTAL_PIXELS,
    },
    http: {
      host: env.HOST,
      port: env.PORT,
      corsOrigins: env.CORS_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o.length > 0),
      requestTimeoutSeconds: env.REQUEST_TIMEOUT_SECONDS,
      metricsToken: env.METRICS_TOKEN,
    },
    nodeEnv: env.NODE_ENV,
    processorHttp: { port: env.PROCESSOR_HTTP_PORT },
    cdn,
    queue: {
      queueUrl: env.SQS_QUEUE_URL ?? '',
      endpoint: env.SQS_ENDPOINT,
      waitTimeSeconds: env.SQS_WAIT_TIME_SECONDS,
      batchSize: env.SQS_BATCH_SIZE,
      concurrency: env.PROCESSOR_CONCURRENCY,
    },
  }
}

function readPrivateKey(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError([`CLOUDFRONT_PRIVATE_KEY_FILE cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`])
  }
}

/** For entry points: the configuration, or every problem on stderr and exit code 1. */
export function loadConfigOrExit(section: Section, source: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(source, section)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`${error.message}\n`)
    process.exit(1)
  }
}
