import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ConfigError, loadConfig } from './config.ts'
import { shownValue } from './config-problems.ts'

// The api also needs a way to authenticate callers; a JWKS issuer is the smallest one.
const issuer = { AUTH_ISSUER: 'https://idp.example', AUTH_AUDIENCE: 'images', AUTH_JWKS_URL: 'https://idp.example/jwks' }
const minimal = { DATABASE_URL: 'postgres://u:p@db:5432/images', S3_BUCKET: 'images', CDN_MODE: 's3-presigned', ...issuer }
const cloudfront = {
  ...minimal,
  CDN_MODE: 'cloudfront',
  CDN_BASE_URL: 'https://cdn.example/',
  CLOUDFRONT_KEY_PAIR_ID: 'K1',
  CLOUDFRONT_PRIVATE_KEY: 'pem',
}
const processor = { ...minimal, SQS_QUEUE_URL: 'http://q' }

function problemsOf(run: () => unknown): string[] {
  try {
    run()
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(minimal, 'api')
    expect(config.api.upload).toEqual({ urlTtlSeconds: 300, multipartUrlTtlSeconds: 3600 })
    expect(config.api.queue).toEqual({ url: undefined, endpoint: undefined })
    expect(config.limits).toEqual({ maxUploadBytes: 10_485_760 })
    expect(config.api.cdn).toEqual({ mode: 's3-presigned', ttlSeconds: 600, windowSeconds: 300, cacheSize: 100_000 })
    expect(config.api.http).toEqual({
      host: '127.0.0.1',
      port: 3000,
      corsOrigins: [],
      requestTimeoutSeconds: 30,
      trustProxy: false,
      metricsToken: undefined,
    })
    expect(config.api.rateLimit).toEqual({
      perMinute: 600,
      issuancePerMinute: 120,
      windowSeconds: 60,
      redisUrl: undefined,
      redisKeyPrefix: 'image-service:rate-limit:',
    })
    expect(config.storage).toEqual({ region: 'us-east-1', bucket: 'images', endpoint: undefined, forcePathStyle: false })
    expect(config.api.auth).toEqual({
      issuer: 'https://idp.example',
      audience: 'images',
      jwksUrl: 'https://idp.example/jwks',
      jwtSecret: undefined,
      accounts: { enabled: false, secret: undefined, baseUrl: undefined },
    })
    expect(config.nodeEnv).toBe('production')
    expect(config.log).toEqual({ level: 'info', pretty: false })
    expect(config.database).toEqual({ url: minimal.DATABASE_URL, poolMax: 10 })

    const processorConfig = loadConfig(processor, 'processor')
    expect(processorConfig.processor).toEqual({
      http: { host: '127.0.0.1', port: 3001, metricsToken: undefined },
      queue: { url: 'http://q', endpoint: undefined, waitTimeSeconds: 20, batchSize: 10, concurrency: 4 },
      upload: { urlTtlSeconds: 300, multipartUrlTtlSeconds: 3600 },
      lifecycle: {
        sweepIntervalSeconds: 60,
        batchSize: 500,
        graceSeconds: 300,
        recordRetentionDays: 30,
        imageRetentionDays: undefined,
        auditRetentionDays: 365,
        eventRetentionDays: 30,
      },
      cdn: { distributionId: undefined, apiEndpoint: undefined },
      processing: {
        jobsQueueUrl: undefined,
        concurrency: 4,
        falKey: undefined,
        falBaseUrl: undefined,
        publicBaseUrl: undefined,
        sourceUrlTtlSeconds: 3600,
        maxAttempts: 5,
        retryBaseSeconds: 5,
        retryMaxSeconds: 300,
        pollIntervalSeconds: 2,
        webhookTimeoutSeconds: 120,
        breakerThreshold: 5,
        breakerOpenSeconds: 30,
        downloadTimeoutSeconds: 60,
        leaseSeconds: 300,
        quota: { maxImages: 10_000, maxBytes: 5_368_709_120 },
      },
      variants: {
        sizes: [
          { name: 'thumbnail', longestEdge: 300 },
          { name: 'medium', longestEdge: 800 },
          { name: 'large', longestEdge: 1200 },
        ],
        formats: ['webp'],
        maxFrames: 50,
      },
      limits: { maxFramePixels: 50_000_000, maxFrames: 1000, maxTotalPixels: 250_000_000 },
      webhooks: {
        url: undefined,
        secret: undefined,
        retrySchedule: [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400],
        timeoutSeconds: 15,
        concurrency: 8,
        pollIntervalMs: 200,
      },
    })
    expect(processorConfig.limits).toEqual({ maxUploadBytes: 10_485_760 })
  })

  it('reads VARIANTS and VARIANT_FORMATS, and refuses a malformed, reserved or repeated size or format by name', () => {
    const given = { ...processor, VARIANTS: 'small:64,hero:2400', VARIANT_FORMATS: 'avif,webp,jpeg', VARIANT_MAX_FRAMES: '10' }
    expect(loadConfig(given, 'processor').processor.variants).toEqual({
      sizes: [
        { name: 'small', longestEdge: 64 },
        { name: 'hero', longestEdge: 2400 },
      ],
      formats: ['avif', 'webp', 'jpeg'],
      maxFrames: 10,
    })
    for (const [name, value] of [
      ['VARIANTS', 'thumbnail'],
      ['VARIANTS', 'Thumb:300'],
      ['VARIANTS', 'original:300'],
      ['VARIANTS', 'a:300,a:400'],
      ['VARIANTS', 'huge:9000'],
      ['VARIANTS', 'zero:0'],
      ['VARIANT_FORMATS', 'png'],
      ['VARIANT_FORMATS', 'webp,webp'],
      ['VARIANT_MAX_FRAMES', '0'],
    ] as const) {
      expect(
        problemsOf(() => loadConfig({ ...processor, [name]: value }, 'processor')),
        `${name}=${value}`,
      ).toEqual([expect.stringContaining(name)])
    }
  })

  it('takes webhooks only with both WEBHOOK_URL and a whsec_ WEBHOOK_SECRET, and never shows the secret', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`
    expect(
      loadConfig({ ...processor, WEBHOOK_URL: 'https://hooks.example/in', WEBHOOK_SECRET: secret }, 'processor').processor.webhooks,
    ).toMatchObject({
      url: 'https://hooks.example/in',
      secret,
    })
    expect(problemsOf(() => loadConfig({ ...processor, WEBHOOK_URL: 'https://hooks.example/in' }, 'processor'))).toEqual([
      'WEBHOOK_URL and WEBHOOK_SECRET go together: set both or neither',
    ])
    const problems = problemsOf(() =>
      loadConfig({ ...processor, WEBHOOK_URL: 'ftp://x', WEBHOOK_SECRET: 'plain-secret-value' }, 'processor'),
    )
    expect(problems.join('\n')).toContain('WEBHOOK_SECRET')
    expect(problems.join('\n')).not.toContain('plain-secret-value')
    expect(problemsOf(() => loadConfig({ ...processor, WEBHOOK_RETRY_SCHEDULE_SECONDS: '5,soon' }, 'processor')).join()).toContain(
      'WEBHOOK_RETRY_SCHEDULE_SECONDS',
    )
  })

  it('gives each entry point its own section only', () => {
    expect(Object.keys(loadConfig(minimal, 'api')).sort()).toEqual(['api', 'database', 'limits', 'log', 'nodeEnv', 'storage', 'telemetry'])
    expect(Object.keys(loadConfig(processor, 'processor')).sort()).toEqual([
      'database',
      'limits',
      'log',
      'nodeEnv',
      'processor',
      'storage',
      'telemetry',
    ])
    expect(Object.keys(loadConfig({ DATABASE_URL: minimal.DATABASE_URL }, 'migrate')).sort()).toEqual(['database', 'log'])
  })

  it('names every missing required variable in one error', () => {
    const problems = problemsOf(() => loadConfig({}, 'processor'))
    expect(problems.map((p) => p.split(' ')[0])).toEqual(['DATABASE_URL', 'S3_BUCKET', 'SQS_QUEUE_URL'])
    expect(problemsOf(() => loadConfig({}, 'migrate'))).toEqual([
      'DATABASE_URL is required (PostgreSQL connection string (postgres://user:pass@host:port/db))',
    ])
  })

  it('needs FAL_KEY when the processor runs AI jobs, and never shows it', () => {
    expect(problemsOf(() => loadConfig({ ...processor, JOBS_QUEUE_URL: 'http://jobs' }, 'processor'))).toEqual([
      'FAL_KEY is required with JOBS_QUEUE_URL (the processor runs AI jobs)',
    ])
    const config = loadConfig({ ...processor, JOBS_QUEUE_URL: 'http://jobs', FAL_KEY: 'key-id:key-secret' }, 'processor')
    expect(config.processor.processing.falKey).toBe('key-id:key-secret')
    expect(problemsOf(() => loadConfig({ ...processor, FAL_KEY: '', JOB_MAX_ATTEMPTS: 'x' }, 'processor')).join()).not.toContain(
      'key-secret',
    )
  })

  it("never validates the other app's section", () => {
    // The api starts without a queue; the processor starts without CDN keys, or with a bad api port.
    expect(() => loadConfig(minimal, 'api')).not.toThrow()
    expect(() => loadConfig({ ...processor, CDN_MODE: 'cloudfront', PORT: 'x', CORS_ORIGINS: '*' }, 'processor')).not.toThrow()
    expect(() => loadConfig({ DATABASE_URL: minimal.DATABASE_URL, S3_BUCKET: '', SQS_QUEUE_URL: '' }, 'migrate')).not.toThrow()
  })

  it('rejects malformed numbers, booleans and enums, each by name', () => {
    const problems = problemsOf(() =>
      loadConfig({ ...minimal, PORT: '30x', MAX_UPLOAD_BYTES: '-5', S3_FORCE_PATH_STYLE: 'maybe', LOG_LEVEL: 'loud' }, 'api'),
    )
    expect(problems.map((p) => p.split(' ')[0]).sort()).toEqual(['LOG_LEVEL', 'MAX_UPLOAD_BYTES', 'PORT', 'S3_FORCE_PATH_STYLE'])
    expect(problems.find((p) => p.startsWith('PORT'))).toContain('"30x"')
  })

  it('treats empty strings as unset', () => {
    const config = loadConfig({ ...minimal, PORT: '', S3_ENDPOINT: '', METRICS_TOKEN: '' }, 'api')
    expect(config.api.http.port).toBe(3000)
    expect(config.storage.endpoint).toBeUndefined()
    expect(config.api.http.metricsToken).toBeUndefined()
  })

  it('requires the CloudFront key material only in cloudfront mode, never echoing secrets', () => {
    const problems = problemsOf(() => loadConfig({ ...minimal, CDN_MODE: 'cloudfront' }, 'api'))
    expect(problems).toEqual([
      'CDN_BASE_URL is required when CDN_MODE=cloudfront',
      'CLOUDFRONT_KEY_PAIR_ID is required when CDN_MODE=cloudfront',
      'CLOUDFRONT_PRIVATE_KEY or CLOUDFRONT_PRIVATE_KEY_FILE is required when CDN_MODE=cloudfront',
    ])
    expect(() => loadConfig({ ...minimal, CDN_MODE: 'cloudfront', SQS_QUEUE_URL: 'http://q' }, 'processor')).not.toThrow()
  })

  it('withholds a malformed secret', () => {
    const problems = problemsOf(() => loadConfig({ ...minimal, METRICS_TOKEN: 's3cret value\n' }, 'api'))
    expect(problems).toEqual([expect.stringMatching(/^METRICS_TOKEN .*; got \[redacted\]$/)])
    expect(problems[0]).not.toContain('s3cret')
  })

  it('masks the password of a malformed connection string', () => {
    const problems = problemsOf(() => loadConfig({ ...minimal, DATABASE_URL: 'mysql://user:hunter2@db/images' }, 'api'))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/^DATABASE_URL .*; got "mysql:\/\/user:\*\*\*@db\/images"$/)
    expect(problems[0]).not.toContain('hunter2')
  })

  it('parses lists and booleans', () => {
    const config = loadConfig({ ...minimal, CORS_ORIGINS: 'https://a.example, https://b.example', S3_FORCE_PATH_STYLE: 'true' }, 'api')
    expect(config.api.http.corsOrigins).toEqual(['https://a.example', 'https://b.example'])
    expect(config.storage.forcePathStyle).toBe(true)
  })

  it('reads the private key from a file and strips a trailing slash from the CDN base', () => {
    const config = loadConfig(cloudfront, 'api')
    expect(config.api.cdn).toEqual({
      mode: 'cloudfront',
      baseUrl: 'https://cdn.example',
      keyPairId: 'K1',
      privateKey: 'pem',
      invalidation: undefined,
      ttlSeconds: 600,
      windowSeconds: 300,
      cacheSize: 100_000,
    })
    const withDistribution = loadConfig(
      { ...cloudfront, CLOUDFRONT_DISTRIBUTION_ID: 'E1', CLOUDFRONT_ENDPOINT: 'http://127.0.0.1:9' },
      'api',
    )
    expect(withDistribution.api.cdn).toMatchObject({ invalidation: { distributionId: 'E1', endpoint: 'http://127.0.0.1:9' } })
    const keyFile = join(mkdtempSync(join(tmpdir(), 'config-spec-')), 'key.pem')
    writeFileSync(keyFile, 'pem from file')
    const fromFile = loadConfig({ ...cloudfront, CLOUDFRONT_PRIVATE_KEY: '', CLOUDFRONT_PRIVATE_KEY_FILE: keyFile }, 'api')
    expect(fromFile.api.cdn.mode === 'cloudfront' && fromFile.api.cdn.privateKey).toBe('pem from file')
    expect(
      problemsOf(() =>
        loadConfig({ ...cloudfront, CLOUDFRONT_PRIVATE_KEY: '', CLOUDFRONT_PRIVATE_KEY_FILE: '/nonexistent/key.pem' }, 'api'),
      ),
    ).toEqual(['CLOUDFRONT_PRIVATE_KEY_FILE cannot be read (ENOENT)'])
  })
})

describe('rate-limit settings', () => {
  it('reads TRUST_PROXY as a boolean or a list of proxy addresses', () => {
    const trustProxy = (value: string) => loadConfig({ ...minimal, TRUST_PROXY: value }, 'api').api.http.trustProxy
    expect(trustProxy('true')).toBe(true)
    expect(trustProxy('false')).toBe(false)
    expect(trustProxy('10.0.0.0/8, 127.0.0.1')).toEqual(['10.0.0.0/8', '127.0.0.1'])
  })

  it('wants a redis:// or rediss:// REDIS_URL and positive limits, never showing a password', () => {
    const problems = problemsOf(() =>
      loadConfig(
        { ...minimal, REDIS_URL: 'http://:hunter2@cache:6379', RATE_LIMIT_PER_MINUTE: '0', RATE_LIMIT_WINDOW_SECONDS: 'soon' },
        'api',
      ),
    )
    expect(problems.map((p) => p.split(' ')[0]).sort()).toEqual(['RATE_LIMIT_PER_MINUTE', 'RATE_LIMIT_WINDOW_SECONDS', 'REDIS_URL'])
    expect(problems.join('\n')).not.toContain('hunter2')
    expect(loadConfig({ ...minimal, REDIS_URL: 'rediss://cache:6380/2' }, 'api').api.rateLimit.redisUrl).toBe('rediss://cache:6380/2')
  })
})

describe('values in problems', () => {
  it('withholds every variable whose name says secret, and any password in a URL', () => {
    for (const name of ['CLOUDFRONT_PRIVATE_KEY', 'METRICS_TOKEN', 'WEBHOOK_SECRET', 'REDIS_PASSWORD']) {
      expect(shownValue(name, 'hunter2')).toBe('[redacted]')
    }
    expect(shownValue('REDIS_URL', 'redis://:hunter2@cache:6379')).toBe('"redis://:***@cache:6379"')
    expect(shownValue('PORT', '30x')).toBe('"30x"')
  })
})

describe('unsafe values refused at start-up', () => {
  it('caps SIGNED_URL_WINDOW_SECONDS at DOWNLOAD_URL_TTL_SECONDS in cloudfront mode', () => {
    expect(
      problemsOf(() => loadConfig({ ...cloudfront, DOWNLOAD_URL_TTL_SECONDS: '600', SIGNED_URL_WINDOW_SECONDS: '601' }, 'api')),
    ).toEqual(['SIGNED_URL_WINDOW_SECONDS (601) must not exceed DOWNLOAD_URL_TTL_SECONDS (600) when CDN_MODE=cloudfront'])
    expect(
      loadConfig({ ...cloudfront, DOWNLOAD_URL_TTL_SECONDS: '600', SIGNED_URL_WINDOW_SECONDS: '600' }, 'api').api.cdn.windowSeconds,
    ).toBe(600)
    // A malformed window is named once, as malformed, not compared.
    expect(problemsOf(() => loadConfig({ ...cloudfront, SIGNED_URL_WINDOW_SECONDS: 'soon' }, 'api'))).toEqual([
      'SIGNED_URL_WINDOW_SECONDS expected integer; got "soon"',
    ])
  })

  it('requires an https CDN_BASE_URL unless NODE_ENV is development or test', () => {
    const plain = { ...cloudfront, CDN_BASE_URL: 'http://cdn.example' }
    expect(problemsOf(() => loadConfig(plain, 'api'))).toEqual([
      'CDN_BASE_URL must be an https: URL when NODE_ENV=production; got "http://cdn.example"',
    ])
    expect(problemsOf(() => loadConfig({ ...plain, NODE_ENV: 'production' }, 'api'))).toHaveLength(1)
    for (const nodeEnv of ['development', 'test']) {
      const config = loadConfig({ ...plain, NODE_ENV: nodeEnv }, 'api')
      expect(config.api.cdn.mode === 'cloudfront' && config.api.cdn.baseUrl).toBe('http://cdn.example')
    }
    expect(problemsOf(() => loadConfig({ ...cloudfront, CDN_BASE_URL: 'cdn.example', NODE_ENV: 'development' }, 'api'))).toEqual([
      'CDN_BASE_URL must be an https: or http: URL when NODE_ENV=development; got "cdn.example"',
    ])
  })

  it('refuses CORS_ORIGINS=* with NODE_ENV=production', () => {
    expect(problemsOf(() => loadConfig({ ...minimal, CORS_ORIGINS: '*' }, 'api'))).toEqual([
      'CORS_ORIGINS=* is refused when NODE_ENV=production; list the allowed origins',
    ])
    expect(problemsOf(() => loadConfig({ ...minimal, CORS_ORIGINS: 'https://a.example, *' }, 'api'))).toHaveLength(1)
    expect(loadConfig({ ...minimal, CORS_ORIGINS: '*', NODE_ENV: 'development' }, 'api').api.http.corsOrigins).toEqual(['*'])
    expect(loadConfig({ ...minimal, CORS_ORIGINS: '*', NODE_ENV: 'test' }, 'api').api.http.corsOrigins).toEqual(['*'])
  })

  describe('CLOUDFRONT_PRIVATE_KEY in process.env', () => {
    afterEach(() => {
      vi.unstubAllEnvs()
    })

    it('is removed once loaded from process.env itself, and left alone in any other source', () => {
      for (const [name, value] of Object.entries(cloudfront)) vi.stubEnv(name, value)
      const config = loadConfig(process.env, 'api')
      expect(config.api.cdn.mode === 'cloudfront' && config.api.cdn.privateKey).toBe('pem')
      expect(process.env.CLOUDFRONT_PRIVATE_KEY).toBeUndefined()
      expect(process.env.CLOUDFRONT_KEY_PAIR_ID).toBe('K1')

      const copy = { ...cloudfront }
      loadConfig(copy, 'api')
      expect(copy.CLOUDFRONT_PRIVATE_KEY).toBe('pem')
    })
  })
})

describe('authentication settings', () => {
  const base = { DATABASE_URL: 'postgres://u:p@db:5432/images', S3_BUCKET: 'images', CDN_MODE: 's3-presigned' }

  it('refuses to start the api with no way to authenticate callers', () => {
    expect(problemsOf(() => loadConfig(base, 'api'))).toEqual([expect.stringContaining('no way to authenticate callers')])
    // The processor authenticates nobody.
    expect(loadConfig({ ...base, SQS_QUEUE_URL: 'http://q' }, 'processor').processor.queue.url).toBe('http://q')
  })

  it('wants an external issuer whole: issuer, audience, and exactly one of JWKS URL or shared secret', () => {
    expect(problemsOf(() => loadConfig({ ...base, AUTH_JWKS_URL: 'https://idp.example/jwks' }, 'api'))).toEqual([
      expect.stringContaining('AUTH_ISSUER is required'),
      expect.stringContaining('AUTH_AUDIENCE is required'),
    ])
    const both = { ...base, ...issuer, AUTH_JWT_SECRET: 'x'.repeat(32) }
    expect(problemsOf(() => loadConfig(both, 'api'))).toEqual([expect.stringContaining('exactly one of AUTH_JWKS_URL or AUTH_JWT_SECRET')])
    const secret = { ...base, AUTH_ISSUER: 'https://idp.example', AUTH_AUDIENCE: 'images', AUTH_JWT_SECRET: 's'.repeat(32) }
    expect(loadConfig(secret, 'api').api.auth.jwtSecret).toBe('s'.repeat(32))
  })

  it('wants a shared secret of at least 32 bytes, and never shows it', () => {
    const short = { ...base, AUTH_ISSUER: 'https://idp.example', AUTH_AUDIENCE: 'images', AUTH_JWT_SECRET: 'short-secret' }
    const problems = problemsOf(() => loadConfig(short, 'api'))
    expect(problems.join('\n')).toContain('AUTH_JWT_SECRET')
    expect(problems.join('\n')).not.toContain('short-secret')
  })

  it('takes built-in accounts alone, with their secret and base URL', () => {
    expect(problemsOf(() => loadConfig({ ...base, AUTH_ACCOUNTS: 'true' }, 'api'))).toEqual([
      expect.stringContaining('AUTH_ACCOUNTS_SECRET is required'),
      expect.stringContaining('AUTH_ACCOUNTS_BASE_URL'),
    ])
    const accounts = {
      ...base,
      AUTH_ACCOUNTS: 'true',
      AUTH_ACCOUNTS_SECRET: 'a'.repeat(32),
      AUTH_ACCOUNTS_BASE_URL: 'https://images.example',
    }
    expect(loadConfig(accounts, 'api').api.auth.accounts).toEqual({
      enabled: true,
      secret: 'a'.repeat(32),
      baseUrl: 'https://images.example',
    })
  })
})
