import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, parseEnv } from './config.ts'

const minimal = { DATABASE_URL: 'postgres://u:p@db:5432/images', S3_BUCKET: 'images', CDN_MODE: 's3-presigned' }

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
    const config = loadConfig(minimal)
    expect(config.upload).toEqual({ uploadUrlTtlSeconds: 300, maxUploadBytes: 10_485_760 })
    expect(config.cdn.ttlSeconds).toBe(600)
    expect(config.limits).toEqual({
      maxUploadBytes: 10_485_760,
      maxFramePixels: 50_000_000,
      maxFrames: 1000,
      maxTotalPixels: 250_000_000,
    })
    expect(config.http).toEqual({ host: '127.0.0.1', port: 3000, corsOrigins: [], requestTimeoutSeconds: 30, metricsToken: undefined })
    expect(config.processorHttp).toEqual({ port: 3001 })
    expect(config.storage).toEqual({ region: 'us-east-1', bucket: 'images', endpoint: undefined, forcePathStyle: false })
  })

  it('names every missing required variable in one error', () => {
    const problems = problemsOf(() => loadConfig({}, 'processor'))
    expect(problems.map((p) => p.split(' ')[0])).toEqual(['DATABASE_URL', 'S3_BUCKET', 'SQS_QUEUE_URL'])
  })

  it('rejects malformed numbers, booleans and enums, each by name', () => {
    const problems = problemsOf(() =>
      loadConfig({ ...minimal, PORT: '30x', MAX_UPLOAD_BYTES: '-5', S3_FORCE_PATH_STYLE: 'maybe', LOG_LEVEL: 'loud' }),
    )
    expect(problems.map((p) => p.split(' ')[0]).sort()).toEqual(['LOG_LEVEL', 'MAX_UPLOAD_BYTES', 'PORT', 'S3_FORCE_PATH_STYLE'])
    expect(problems.find((p) => p.startsWith('PORT'))).toContain('"30x"')
  })

  it('treats empty strings as unset', () => {
    expect(loadConfig({ ...minimal, PORT: '', S3_ENDPOINT: '' }).http.port).toBe(3000)
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

  it('parses lists and booleans', () => {
    const config = loadConfig({ ...minimal, CORS_ORIGINS: 'https://a.example, https://b.example', S3_FORCE_PATH_STYLE: 'true' })
    expect(config.http.corsOrigins).toEqual(['https://a.example', 'https://b.example'])
    expect(config.storage.forcePathStyle).toBe(true)
  })

  it('reads the private key from a file and strips a trailing slash from the CDN base', () => {
    const env = parseEnv({ ...minimal, CDN_MODE: 'cloudfront', CDN_BASE_URL: 'https://cdn.example/', CLOUDFRONT_KEY_PAIR_ID: 'K1', CLOUDFRONT_PRIVATE_KEY: 'pem' })
    expect(env.CDN_MODE).toBe('cloudfront')
    const config = loadConfig({ ...minimal, CDN_MODE: 'cloudfront', CDN_BASE_URL: 'https://cdn.example/', CLOUDFRONT_KEY_PAIR_ID: 'K1', CLOUDFRONT_PRIVATE_KEY: 'pem' })
    expect(config.cdn.mode === 'cloudfront' && config.cdn.baseUrl).toBe('https://cdn.example')
    expect(problemsOf(() => loadConfig({ ...minimal, CDN_MODE: 'cloudfront', CDN_BASE_URL: 'x', CLOUDFRONT_KEY_PAIR_ID: 'K', CLOUDFRONT_PRIVATE_KEY_FILE: '/nonexistent/key.pem' }))).toEqual([
      'CLOUDFRONT_PRIVATE_KEY_FILE cannot be read (ENOENT)',
    ])
  })
})
