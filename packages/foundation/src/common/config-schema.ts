import { readFileSync } from 'node:fs'
import {
  DEFAULT_VARIANT_FORMATS,
  DEFAULT_VARIANT_MAX_FRAMES,
  DEFAULT_VARIANTS,
  IMAGE_VARIANT_FORMATS,
  MAX_VARIANT_EDGE,
  parseVariantFormats,
  parseVariantSizes,
} from './variant-settings.ts'
import { KindGuard, type Static, type StaticDecode, type TObject, type TSchema, Type } from '@sinclair/typebox'

/**
 * Every environment variable the project reads, declared once, straight into the nested shape
 * the apps use. The schema gives the types (StaticDecode), the defaults, the start-up
 * validation and the README's configuration table; nothing maps variables to fields by hand.
 */
const VARIABLE = 'x-env'

/** A leaf of the configuration: the schema of one value and the variable it is read from. */
function env<T extends TSchema>(name: string, schema: T): T {
  return { ...schema, [VARIABLE]: name }
}

const Str = (description: string, options: { default?: string; pattern?: string } = {}) =>
  Type.String({ minLength: 1, ...options, description })
const Int = (description: string, options: { default?: number; minimum?: number; maximum?: number } = {}) =>
  Type.Integer({ minimum: 0, ...options, description })
const Bool = (description: string, value: boolean) => Type.Boolean({ default: value, description })

const commaList = (text: string) =>
  text
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0)

// Read by every entry point (the apps and the migrate command).
const LogSchema = Type.Object({
  level: env(
    'LOG_LEVEL',
    Type.Union(
      [
        Type.Literal('fatal'),
        Type.Literal('error'),
        Type.Literal('warn'),
        Type.Literal('info'),
        Type.Literal('debug'),
        Type.Literal('trace'),
        Type.Literal('silent'),
      ],
      { default: 'info', description: 'pino log level' },
    ),
  ),
  pretty: env('LOG_PRETTY', Bool('Human-readable logs instead of JSON lines', false)),
})
const DatabaseSchema = Type.Object({
  url: env('DATABASE_URL', Str('PostgreSQL connection string (postgres://user:pass@host:port/db)', { pattern: '^postgres(ql)?://' })),
  poolMax: env('DATABASE_POOL_MAX', Int('Connections per process in the PostgreSQL pool', { default: 10, minimum: 1 })),
})

// Read by both apps.
const NodeEnvSchema = env(
  'NODE_ENV',
  Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'production',
    description: '`production` refuses development-only settings (CORS `*`, a plain-http CDN); `development` and `test` allow them',
  }),
)
const StorageSchema = Type.Object({
  region: env('AWS_REGION', Str('Region of the S3 bucket and SQS queue', { default: 'us-east-1' })),
  bucket: env('S3_BUCKET', Str('Bucket that receives uploads (object keys are uploads/{image_id})')),
  endpoint: env('S3_ENDPOINT', Type.Optional(Str('Custom S3 endpoint (MinIO, SeaweedFS, Ceph RGW, emulator); unset for AWS'))),
  forcePathStyle: env('S3_FORCE_PATH_STYLE', Bool('Path-style bucket addressing, needed by most S3-compatible servers', false)),
})
const LimitsSchema = Type.Object({
  maxUploadBytes: env('MAX_UPLOAD_BYTES', Int('Largest accepted upload, inclusive', { default: 10_485_760, minimum: 1 })),
})

// The api's own section.
const HttpSchema = Type.Object({
  host: env('HOST', Str("Address the API (and the processor's /metrics and /health) listens on", { default: '127.0.0.1' })),
  port: env('PORT', Int('Port the API listens on', { default: 3000, maximum: 65_535 })),
  corsOrigins: env(
    'CORS_ORIGINS',
    Type.Transform(
      Type.String({
        default: '',
        description: 'Comma-separated origins allowed by CORS; `*` allows any (refused when NODE_ENV=production); empty allows none',
      }),
    )
      .Decode(commaList)
      .Encode((origins) => origins.join(',')),
  ),
  requestTimeoutSeconds: env(
    'REQUEST_TIMEOUT_SECONDS',
    Int('Longest time the API waits for a whole request (headers and body) before answering 408', { default: 30, minimum: 1 }),
  ),
  trustProxy: env(
    'TRUST_PROXY',
    Type.Transform(
      Type.String({
        default: 'false',
        description:
          'Whose X-Forwarded-For to believe for the client IP (rate limits, logs): `false` nobody (the API faces clients directly), `true` every peer (only when nothing but the load balancer can reach the API), or the comma-separated addresses or CIDRs of the proxies (e.g. `10.0.0.0/8`)',
      }),
    )
      .Decode(decodeTrustProxy)
      .Encode((trusted) => (typeof trusted === 'boolean' ? String(trusted) : trusted.join(','))),
  ),
  // RFC 6750's token characters: a token with a space or a stray newline could never be sent.
  metricsToken: env(
    'METRICS_TOKEN',
    Type.Optional(
      Str('Bearer token that GET /metrics requires (secret); unset leaves /metrics public', { pattern: '^[A-Za-z0-9._~+/-]+=*$' }),
    ),
  ),
})
/**
 * Fastify's trustProxy: a boolean or the addresses of the proxies. Not a hop count: Fastify
 * trusts no peer for a number, since a direct client could send enough hops of its own.
 */
function decodeTrustProxy(text: string): boolean | string[] {
  if (text === 'true' || text === 'false') return text === 'true'
  return commaList(text)
}

// DESIGN, "Quotas, rate limits, audit": per owner, or per client IP before authentication.
const RateLimitSchema = Type.Object({
  perMinute: env(
    'RATE_LIMIT_PER_MINUTE',
    Int('Requests per window an owner (or, unauthenticated, a client IP) may make to the API as a whole', { default: 600, minimum: 1 }),
  ),
  issuancePerMinute: env(
    'RATE_LIMIT_ISSUANCE_PER_MINUTE',
    Int('Requests per window an owner may make to the issuing routes (presign, multipart, processing/start), within the overall limit', {
      default: 120,
      minimum: 1,
    }),
  ),
  windowSeconds: env(
    'RATE_LIMIT_WINDOW_SECONDS',
    Int('Length of the rate-limit window; the limits above count per window', { default: 60, minimum: 1 }),
  ),
  redisUrl: env(
    'REDIS_URL',
    Type.Optional(
      Str(
        'Redis that holds the rate-limit counters, so every replica shares one budget (redis://[:password@]host:port[/db]); unset keeps them in memory per process',
        { pattern: '^rediss?://' },
      ),
    ),
  ),
  redisKeyPrefix: env(
    'RATE_LIMIT_REDIS_PREFIX',
    Str("Prefix of the counters' keys in REDIS_URL: deployments sharing one Redis need different prefixes to keep separate budgets", {
      default: 'image-service:rate-limit:',
    }),
  ),
})

const UploadSchema = Type.Object({
  urlTtlSeconds: env('UPLOAD_URL_TTL_SECONDS', Int('Lifetime of a presigned upload URL', { default: 300, minimum: 1, maximum: 604_800 })),
  multipartUrlTtlSeconds: env(
    'MULTIPART_URL_TTL_SECONDS',
    Int('Lifetime of the part URLs of a multipart upload (create and resume); the sweeper aborts an upload once they expired', {
      default: 3600,
      minimum: 1,
      maximum: 604_800,
    }),
  ),
})
const QuotaSchema = Type.Object({
  maxImages: env('QUOTA_MAX_IMAGES', Int('Most pending and ready images per owner', { default: 10_000, minimum: 1 })),
  maxBytes: env(
    'QUOTA_MAX_BYTES',
    Int("Most bytes per owner: ready images' sizes plus what pending uploads reserve", { default: 5_368_709_120, minimum: 1 }),
  ),
})
const CdnVariablesSchema = Type.Object({
  mode: env(
    'CDN_MODE',
    Type.Union([Type.Literal('cloudfront'), Type.Literal('s3-presigned')], {
      default: 'cloudfront',
      description: '`cloudfront` signs CloudFront URLs; `s3-presigned` presigns S3 GETs (no CDN)',
    }),
  ),
  baseUrl: env(
    'CDN_BASE_URL',
    Type.Optional(
      Str(
        'CloudFront distribution URL, e.g. https://d111111abcdef8.cloudfront.net; required in cloudfront mode, and https unless NODE_ENV is development or test',
      ),
    ),
  ),
  keyPairId: env('CLOUDFRONT_KEY_PAIR_ID', Type.Optional(Str('Public key id in the trusted key group; required in cloudfront mode'))),
  privateKey: env(
    'CLOUDFRONT_PRIVATE_KEY',
    Type.Optional(
      Str(
        'PEM private key that signs CloudFront URLs (secret), for development; production uses CLOUDFRONT_PRIVATE_KEY_FILE. Removed from the process environment once read',
      ),
    ),
  ),
  privateKeyFile: env(
    'CLOUDFRONT_PRIVATE_KEY_FILE',
    Type.Optional(
      Str(
        'Path of a mounted secret file holding that PEM key: the production way, the key never sits in the environment. This or CLOUDFRONT_PRIVATE_KEY is required in cloudfront mode',
      ),
    ),
  ),
  distributionId: env(
    'CLOUDFRONT_DISTRIBUTION_ID',
    Type.Optional(
      Str(
        'Distribution whose cached copies a delete invalidates (CreateInvalidation); unset: deleted images stay in edge caches until they expire',
      ),
    ),
  ),
  apiEndpoint: env('CLOUDFRONT_ENDPOINT', Type.Optional(Str('Custom endpoint of the CloudFront API (an emulator); unset for AWS'))),
  ttlSeconds: env('DOWNLOAD_URL_TTL_SECONDS', Int('Lifetime of a signed download URL', { default: 600, minimum: 1, maximum: 604_800 })),
  windowSeconds: env(
    'SIGNED_URL_WINDOW_SECONDS',
    Int(
      'Download URL expiries are aligned to windows of this size and cached; 0 disables; in cloudfront mode at most DOWNLOAD_URL_TTL_SECONDS',
      { default: 300 },
    ),
  ),
  cacheSize: env('SIGNED_URL_CACHE_SIZE', Int('Signed download URLs kept in the in-process cache', { default: 100_000 })),
})
export type CdnVariables = Static<typeof CdnVariablesSchema>

/**
 * The CloudFront values are required in one mode only, so the variables themselves stay
 * optional and the loader's rules name what cloudfront mode lacks. This decode runs only
 * after those rules passed, and gives consumers a union on `mode` in which a cloudfront
 * config always has its URL, key id and key: no placeholders, no `!` at the use sites, and
 * the type is still the schema's own (StaticDecode), not a second declaration.
 */
function decodeCdn({ mode, baseUrl, keyPairId, privateKey, privateKeyFile, distributionId, apiEndpoint, ...expiry }: CdnVariables) {
  if (mode === 's3-presigned') return { mode, ...expiry }
  return {
    mode,
    baseUrl: present(baseUrl, 'CDN_BASE_URL').replace(/\/+$/, ''),
    keyPairId: present(keyPairId, 'CLOUDFRONT_KEY_PAIR_ID'),
    privateKey: privateKey ?? readPrivateKey(present(privateKeyFile, 'CLOUDFRONT_PRIVATE_KEY_FILE')),
    invalidation: distributionId === undefined ? undefined : { distributionId, endpoint: apiEndpoint },
    ...expiry,
  }
}

function present(value: string | undefined, name: string): string {
  if (value === undefined) throw new Error(`${name} is required when CDN_MODE=cloudfront`)
  return value
}

function readPrivateKey(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new Error(`CLOUDFRONT_PRIVATE_KEY_FILE cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

const CdnSchema = Type.Transform(CdnVariablesSchema)
  .Decode(decodeCdn)
  .Encode((cdn): CdnVariables => cdn)

// Who may call: an external identity provider, built-in accounts, or both (DESIGN, "Identity and access").
const AuthSchema = Type.Object({
  issuer: env(
    'AUTH_ISSUER',
    Type.Optional(Str('`iss` of the external identity provider (Cognito, Auth0, Keycloak, …); its tokens must carry exactly this')),
  ),
  audience: env(
    'AUTH_AUDIENCE',
    Type.Optional(Str('`aud` those tokens must carry (the API identifier at the provider); required with AUTH_ISSUER')),
  ),
  jwksUrl: env(
    'AUTH_JWKS_URL',
    Type.Optional(
      Str("The provider's JWKS URL (cached; refetched when a token names an unknown kid); this or AUTH_JWT_SECRET with AUTH_ISSUER"),
    ),
  ),
  jwtSecret: env(
    'AUTH_JWT_SECRET',
    Type.Optional(
      Type.String({ minLength: 32, description: 'Shared HS256 secret of at least 32 bytes (secret), instead of AUTH_JWKS_URL' }),
    ),
  ),
  accounts: Type.Object({
    enabled: env(
      'AUTH_ACCOUNTS',
      Bool('Built-in accounts (email and password, Better Auth) at /api/auth/*, for apps without an identity provider', false),
    ),
    secret: env(
      'AUTH_ACCOUNTS_SECRET',
      Type.Optional(
        Type.String({
          minLength: 32,
          description: 'Secret of the built-in accounts (session signing, key encryption; secret); required with AUTH_ACCOUNTS',
        }),
      ),
    ),
    baseUrl: env(
      'AUTH_ACCOUNTS_BASE_URL',
      Type.Optional(
        Str("Public URL of this API, the built-in accounts' issuer (e.g. https://images.example.com); required with AUTH_ACCOUNTS"),
      ),
    ),
  }),
})

// The event stream (DESIGN "Events").
const EventStreamSchema = Type.Object({
  pollIntervalMs: env(
    'EVENTS_POLL_INTERVAL_MS',
    Int('How often the api looks for new events while some stream is open (one query per interval for all streams)', {
      default: 100,
      minimum: 10,
    }),
  ),
  heartbeatSeconds: env(
    'EVENTS_HEARTBEAT_SECONDS',
    Int('Seconds between heartbeat comments on an idle event stream', { default: 15, minimum: 1 }),
  ),
  accessTokenMaxLifetimeSeconds: env(
    'EVENTS_ACCESS_TOKEN_MAX_LIFETIME_SECONDS',
    Int("A stream's `?access_token=` JWT must expire within this many seconds (API keys are never taken there)", {
      default: 900,
      minimum: 1,
    }),
  ),
})

// DESIGN "AI processing": the api's side (workflows, starting jobs, fal's webhook).
const JobsQueueVariable = env(
  'JOBS_QUEUE_URL',
  Type.Optional(
    Str('Queue of AI jobs (with its own DLQ): the api sends started jobs to it, the processor runs them; unset turns AI processing off'),
  ),
)
const ApiProcessingSchema = Type.Object({
  workflowsJson: env(
    'PROCESSING_WORKFLOWS',
    Type.Optional(
      Str(
        'The workflows as a JSON array of {id, name, description, model, parameters_schema, defaults}; overrides PROCESSING_WORKFLOWS_FILE',
      ),
    ),
  ),
  workflowsFile: env(
    'PROCESSING_WORKFLOWS_FILE',
    Type.Optional(Str('Path of a JSON file holding the workflows; unset (and no PROCESSING_WORKFLOWS): the shipped hairstyle and restyle')),
  ),
  jobsQueueUrl: JobsQueueVariable,
  maxConcurrentPerOwner: env(
    'JOB_MAX_CONCURRENT_PER_OWNER',
    Int('Most queued and running AI jobs per owner; a start beyond it answers 429 TOO_MANY_JOBS', { default: 3, minimum: 1 }),
  ),
  falWebhookJwksUrl: env(
    'FAL_WEBHOOK_JWKS_URL',
    Str("JWKS whose Ed25519 keys sign fal's webhooks (the fal emulator's in development)", {
      default: 'https://rest.alpha.fal.ai/.well-known/jwks.json',
    }),
  ),
})

const QueueUrlSchema = env('SQS_QUEUE_URL', Str('Queue that receives S3 ObjectCreated events'))
const QueueEndpointSchema = env('SQS_ENDPOINT', Type.Optional(Str('Custom SQS endpoint (ElasticMQ, emulator); unset for AWS')))

// Ready records kept in memory by each api replica, forgotten when any process changes one
// (shared/image/ready-record-cache.ts).
const RecordCacheSchema = Type.Object({
  size: env(
    'IMAGE_RECORD_CACHE_SIZE',
    Int(
      'Ready image records each api replica keeps in memory for downloads and status reads; every change is announced to every replica (LISTEN, one more connection per replica); 0 reads each from the database',
      { default: 10_000, minimum: 0 },
    ),
  ),
  listenUrl: env(
    'DATABASE_LISTEN_URL',
    Type.Optional(
      Str(
        'Where the api LISTENs for record changes, when DATABASE_URL is a pooler in transaction mode (which does not keep LISTEN): the server or a session-mode pool; unset uses DATABASE_URL',
        { pattern: '^postgres(ql)?://' },
      ),
    ),
  ),
  maxAgeSeconds: env(
    'IMAGE_RECORD_CACHE_MAX_AGE_SECONDS',
    Int('Longest a kept record is served without reading it again: bounds a change whose announcement was lost', {
      default: 60,
      minimum: 1,
    }),
  ),
})

const ApiSectionSchema = Type.Object({
  http: HttpSchema,
  recordCache: RecordCacheSchema,
  events: EventStreamSchema,
  upload: UploadSchema,
  // upload/confirm queues validations beside S3's events; without a queue it answers 503.
  queue: Type.Object({
    url: env(
      'SQS_QUEUE_URL',
      Type.Optional(
        Str(
          'Queue that receives S3 ObjectCreated events: required by the processor; the api queues upload/confirm validations on it (unset there, confirm answers 503)',
        ),
      ),
    ),
    endpoint: QueueEndpointSchema,
  }),
  quota: QuotaSchema,
  cdn: CdnSchema,
  auth: AuthSchema,
  rateLimit: RateLimitSchema,
  processing: ApiProcessingSchema,
})

// Webhooks (DESIGN "Events"), sent by the processor's relay.
const WebhookSchema = Type.Object({
  url: env('WEBHOOK_URL', Type.Optional(Str('Where every event is POSTed (Standard Webhooks); unset sends none'))),
  secret: env(
    'WEBHOOK_SECRET',
    Type.Optional(
      Str('Signing secret of those webhooks (secret): `whsec_` and base64 of 24 to 64 random bytes; required with WEBHOOK_URL', {
        pattern: '^whsec_[A-Za-z0-9+/]{32,88}={0,2}$',
      }),
    ),
  ),
  retrySchedule: env(
    'WEBHOOK_RETRY_SCHEDULE_SECONDS',
    Type.Transform(
      Type.String({
        default: '5,300,1800,7200,18000,36000,50400,72000,86400',
        pattern: '^[0-9]+(\\.[0-9]+)?(,[0-9]+(\\.[0-9]+)?)*$',
        description:
          'Waits between the tries of one webhook, in seconds, after the first (immediate) one; when they run out the delivery is given up (about 75 h by default)',
      }),
    )
      .Decode((text) => text.split(',').map(Number))
      .Encode((delays) => delays.join(',')),
  ),
  timeoutSeconds: env('WEBHOOK_TIMEOUT_SECONDS', Int('Longest wait for the receiver to answer one try', { default: 15, minimum: 1 })),
  concurrency: env('WEBHOOK_CONCURRENCY', Int('Webhooks in flight at once (one at a time per subject)', { default: 8, minimum: 1 })),
  pollIntervalMs: env(
    'WEBHOOK_POLL_INTERVAL_MS',
    Int('How often the relay looks for new events and due retries', { default: 200, minimum: 10 }),
  ),
})

// The processor's own section.
const ProcessorSectionSchema = Type.Object({
  // HOST and METRICS_TOKEN mean the same for the processor's small server as for the api's.
  http: Type.Object({
    host: HttpSchema.properties.host,
    port: env('PROCESSOR_HTTP_PORT', Int("Port of the processor's /metrics and /health endpoints", { default: 3001, maximum: 65_535 })),
    metricsToken: HttpSchema.properties.metricsToken,
  }),
  queue: Type.Object({
    url: QueueUrlSchema,
    endpoint: QueueEndpointSchema,
    waitTimeSeconds: env('SQS_WAIT_TIME_SECONDS', Int('Long-poll wait of each receive', { default: 20, maximum: 20 })),
    batchSize: env('SQS_BATCH_SIZE', Int('Messages per receive', { default: 10, minimum: 1, maximum: 10 })),
    concurrency: env('PROCESSOR_CONCURRENCY', Int('Uploads validated at once per processor', { default: 4, minimum: 1 })),
  }),
  upload: UploadSchema,
  // DESIGN "Lifecycle": the sweeper.
  lifecycle: Type.Object({
    sweepIntervalSeconds: env(
      'SWEEP_INTERVAL_SECONDS',
      Int('Seconds between sweeps (one replica sweeps at a time)', { default: 60, minimum: 1 }),
    ),
    batchSize: env(
      'SWEEP_BATCH_SIZE',
      Int('Rows each step of a sweep handles at most, so a backlog never locks a table or fills memory', {
        default: 500,
        minimum: 1,
        maximum: 10_000,
      }),
    ),
    graceSeconds: env(
      'UPLOAD_GRACE_SECONDS',
      Int('Seconds after an upload URL expired before the sweeper expires the upload, or re-queues one whose event was lost', {
        default: 300,
      }),
    ),
    recordRetentionDays: env(
      'RECORD_RETENTION_DAYS',
      Int('Days a failed or deleted record is kept (its status answers) before it is purged', { default: 30, minimum: 1 }),
    ),
    imageRetentionDays: env(
      'IMAGE_RETENTION_DAYS',
      Type.Optional(Int('Days after which a ready image is deleted; unset keeps images until their owner deletes them', { minimum: 1 })),
    ),
    auditRetentionDays: env('AUDIT_RETENTION_DAYS', Int('Days audit rows are kept', { default: 365, minimum: 1 })),
    eventRetentionDays: env(
      'EVENT_RETENTION_DAYS',
      Int('Days events are kept (what SSE and webhooks can replay)', { default: 30, minimum: 1 }),
    ),
  }),
  // The sweeper's deletes invalidate the CDN's copies, as the api's do.
  cdn: Type.Object({
    distributionId: CdnVariablesSchema.properties.distributionId,
    apiEndpoint: CdnVariablesSchema.properties.apiEndpoint,
  }),
  processing: Type.Object({
    jobsQueueUrl: JobsQueueVariable,
    concurrency: env('JOB_CONCURRENCY', Int('AI jobs looked at at once per processor', { default: 4, minimum: 1 })),
    falKey: env(
      'FAL_KEY',
      Type.Optional(Str('fal.ai API key (secret; `key_id:key_secret`), sent only to fal; required with JOBS_QUEUE_URL. Never logged')),
    ),
    falBaseUrl: env(
      'FAL_BASE_URL',
      Type.Optional(Str('Where fal requests go instead of https://queue.fal.run (the fal emulator); unset: fal.ai itself')),
    ),
    publicBaseUrl: env(
      'PUBLIC_BASE_URL',
      Type.Optional(
        Str(
          "The api's public URL: fal posts its webhook to PUBLIC_BASE_URL/api/image/v1/processing/webhooks/fal; unset: the runner polls fal",
        ),
      ),
    ),
    sourceUrlTtlSeconds: env(
      'FAL_SOURCE_URL_TTL_SECONDS',
      Int("Lifetime of the presigned GET of the source that fal fetches: long enough for fal's queue", {
        default: 3600,
        minimum: 60,
        maximum: 604_800,
      }),
    ),
    maxAttempts: env('JOB_MAX_ATTEMPTS', Int('Submissions to fal per job before it fails (429, 5xx, network)', { default: 5, minimum: 1 })),
    retryBaseSeconds: env(
      'JOB_RETRY_BASE_SECONDS',
      Int('First backoff between submissions; doubles each attempt, with jitter', { default: 5, maximum: 900 }),
    ),
    retryMaxSeconds: env('JOB_RETRY_MAX_SECONDS', Int('Longest backoff between submissions', { default: 300, maximum: 900 })),
    pollIntervalSeconds: env(
      'JOB_POLL_INTERVAL_SECONDS',
      Int("Seconds between looks at a running job (fal's status, then its results' validation)", { default: 2, minimum: 1, maximum: 900 }),
    ),
    webhookTimeoutSeconds: env(
      'FAL_WEBHOOK_TIMEOUT_SECONDS',
      Int("With PUBLIC_BASE_URL: how long to wait for fal's webhook before polling instead", { default: 120, minimum: 1, maximum: 900 }),
    ),
    breakerThreshold: env(
      'FAL_BREAKER_THRESHOLD',
      Int('Failed submissions in a row that open the circuit breaker (jobs then wait, queued)', { default: 5, minimum: 1 }),
    ),
    breakerOpenSeconds: env(
      'FAL_BREAKER_OPEN_SECONDS',
      Int('How long the open breaker stops submissions before one trial', { default: 30, minimum: 1, maximum: 900 }),
    ),
    downloadTimeoutSeconds: env(
      'JOB_DOWNLOAD_TIMEOUT_SECONDS',
      Int('Longest time to download one output of fal (each is also bounded by MAX_UPLOAD_BYTES)', { default: 60, minimum: 1 }),
    ),
    leaseSeconds: env(
      'JOB_LEASE_SECONDS',
      Int(
        "How long one processor holds a job it looks at; longer than a look can take (downloads of all outputs); a crashed processor's jobs resume after it",
        { default: 300, minimum: 1 },
      ),
    ),
    quota: QuotaSchema,
  }),
  // DESIGN "Variants": the sizes and formats derived from every validated upload.
  variants: Type.Object({
    sizes: env(
      'VARIANTS',
      Type.Transform(
        Type.String({
          default: DEFAULT_VARIANTS,
          pattern: '^[a-z][a-z0-9_]*:[0-9]+(,[a-z][a-z0-9_]*:[0-9]+)*$',
          description: `Sizes derived from every validated image, as name:longest-edge pairs (never enlarged; 1..${MAX_VARIANT_EDGE}); \`original\` is reserved for the upload itself`,
        }),
      )
        .Decode(parseVariantSizes)
        .Encode((sizes) => sizes.map((s) => `${s.name}:${s.longestEdge}`).join(',')),
    ),
    formats: env(
      'VARIANT_FORMATS',
      Type.Transform(
        Type.String({
          default: DEFAULT_VARIANT_FORMATS,
          pattern: `^(${IMAGE_VARIANT_FORMATS.join('|')})(,(${IMAGE_VARIANT_FORMATS.join('|')}))*$`,
          description: `Formats every size is generated in, comma-separated, among ${IMAGE_VARIANT_FORMATS.join(', ')}; animation is kept in webp only`,
        }),
      )
        .Decode(parseVariantFormats)
        .Encode((formats) => formats.join(',')),
    ),
    maxFrames: env(
      'VARIANT_MAX_FRAMES',
      Int('Frames an animated variant keeps at most (the rest is dropped), which bounds the work of deriving an animation', {
        default: DEFAULT_VARIANT_MAX_FRAMES,
        minimum: 1,
      }),
    ),
  }),
  limits: Type.Object({
    maxFramePixels: env(
      'MAX_FRAME_PIXELS',
      Int('Largest width x height of one frame (and of the container canvas)', { default: 50_000_000, minimum: 1 }),
    ),
    maxFrames: env('MAX_FRAMES', Int('Most frames in an animated image', { default: 1000, minimum: 1 })),
    maxTotalPixels: env('MAX_TOTAL_PIXELS', Int('Most pixels over all frames', { default: 250_000_000, minimum: 1 })),
  }),
  webhooks: WebhookSchema,
})

// Read by the tracing preload (src/tracing-preload.ts) before the app starts; declared here so
// each app validates them and the config table lists them.
const TelemetrySchema = Type.Object({
  otlpEndpoint: env(
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    Type.Optional(Str('OTLP/HTTP collector base URL; traces go to {url}/v1/traces. Unset: tracing off', { pattern: '^https?://' })),
  ),
  serviceName: env(
    'OTEL_SERVICE_NAME',
    Type.Optional(Str("service.name of the spans; unset: 'image-service-api' or 'image-service-processor'")),
  ),
})

const everyEntryPoint = { log: LogSchema, database: DatabaseSchema }
const bothApps = { nodeEnv: NodeEnvSchema, ...everyEntryPoint, storage: StorageSchema, limits: LimitsSchema, telemetry: TelemetrySchema }

/** What each entry point reads: an app never sees, nor validates, the other app's section. */
export const ConfigSchemas = {
  api: Type.Object({ ...bothApps, api: ApiSectionSchema }),
  processor: Type.Object({ ...bothApps, processor: ProcessorSectionSchema }),
  migrate: Type.Object(everyEntryPoint),
} satisfies Record<string, TObject>

export type ConfigSection = keyof typeof ConfigSchemas
export type ConfigOf = { [S in ConfigSection]: StaticDecode<(typeof ConfigSchemas)[S]> }
export type ApiConfig = ConfigOf['api']
export type ProcessorConfig = ConfigOf['processor']
export type MigrateConfig = ConfigOf['migrate']

export type StorageConfig = ApiConfig['storage']
export type UploadConfig = ApiConfig['api']['upload']
export type QuotaConfig = ApiConfig['api']['quota']
export type CdnConfig = ApiConfig['api']['cdn']
export type RateLimitConfig = ApiConfig['api']['rateLimit']
export type EventStreamConfig = ApiConfig['api']['events']
export type WebhookConfig = ProcessorConfig['processor']['webhooks']
export type ApiProcessingConfig = ApiConfig['api']['processing']
export type ProcessorProcessingConfig = ProcessorConfig['processor']['processing']
export type ImageLimits = ProcessorConfig['limits'] & ProcessorConfig['processor']['limits']

export type ConfigVariable = {
  name: string
  /** Where its value lands, e.g. ['api', 'http', 'port']. */
  path: string[]
  schema: TSchema
  optional: boolean
}

/** The variables a schema reads, in declaration order. */
export function variablesOf(schema: TSchema, path: string[] = []): ConfigVariable[] {
  const name: unknown = schema[VARIABLE]
  if (typeof name === 'string') return [{ name, path, schema, optional: KindGuard.IsOptional(schema) }]
  if (!KindGuard.IsObject(schema)) return []
  return Object.entries(schema.properties).flatMap(([key, child]) => variablesOf(child, [...path, key]))
}
