import type { Static, TObject } from '@sinclair/typebox'
import { TransformDecodeError, Value } from '@sinclair/typebox/value'
import { type ConfigOf, type ConfigSection, ConfigSchemas, type ConfigVariable, variablesOf } from './config-schema.ts'
import { shownValue } from './config-problems.ts'

export {
  type ApiConfig,
  type CdnConfig,
  type ConfigOf,
  type ConfigSection,
  ConfigSchemas,
  type ConfigVariable,
  type ImageLimits,
  type MigrateConfig,
  type ProcessorConfig,
  type QuotaConfig,
  type RateLimitConfig,
  type ApiProcessingConfig,
  type ProcessorProcessingConfig,
  type StorageConfig,
  type UploadConfig,
  variablesOf,
} from './config-schema.ts'

export type EnvSource = Record<string, string | undefined>

export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/**
 * A check across variables, which one variable's schema cannot express. `reads` names its
 * inputs: a rule is skipped while one of them is already malformed (that problem is named).
 */
type Rule<T> = { reads: string[]; check: (config: T) => string[] }
type Rules = { [S in ConfigSection]: Rule<Static<(typeof ConfigSchemas)[S]>>[] }

type ApiVariables = Static<typeof ConfigSchemas.api>
const cloudfront = (config: ApiVariables) => config.api.cdn.mode === 'cloudfront'

const apiRules: Rule<ApiVariables>[] = [
  {
    reads: ['CDN_MODE'],
    check(config) {
      if (!cloudfront(config)) return []
      const { baseUrl, keyPairId, privateKey, privateKeyFile } = config.api.cdn
      return [
        ...(baseUrl === undefined ? ['CDN_BASE_URL is required when CDN_MODE=cloudfront'] : []),
        ...(keyPairId === undefined ? ['CLOUDFRONT_KEY_PAIR_ID is required when CDN_MODE=cloudfront'] : []),
        ...(privateKey === undefined && privateKeyFile === undefined
          ? ['CLOUDFRONT_PRIVATE_KEY or CLOUDFRONT_PRIVATE_KEY_FILE is required when CDN_MODE=cloudfront']
          : []),
      ]
    },
  },
  {
    // Signed URLs carry a path and a signature: over plain http both can be read on the way.
    reads: ['NODE_ENV', 'CDN_MODE', 'CDN_BASE_URL'],
    check(config) {
      const { baseUrl } = config.api.cdn
      if (!cloudfront(config) || baseUrl === undefined) return []
      const allowed = config.nodeEnv === 'production' ? ['https:'] : ['https:', 'http:']
      if (URL.canParse(baseUrl) && allowed.includes(new URL(baseUrl).protocol)) return []
      return [`CDN_BASE_URL must be an ${allowed.join(' or ')} URL when NODE_ENV=${config.nodeEnv}; got ${JSON.stringify(baseUrl)}`]
    },
  },
  {
    // A URL lives up to TTL + window; a window above the TTL would more than double it.
    reads: ['CDN_MODE', 'SIGNED_URL_WINDOW_SECONDS', 'DOWNLOAD_URL_TTL_SECONDS'],
    check(config) {
      const { windowSeconds, ttlSeconds } = config.api.cdn
      if (!cloudfront(config) || windowSeconds <= ttlSeconds) return []
      return [
        `SIGNED_URL_WINDOW_SECONDS (${windowSeconds}) must not exceed DOWNLOAD_URL_TTL_SECONDS (${ttlSeconds}) when CDN_MODE=cloudfront`,
      ]
    },
  },
  {
    reads: ['NODE_ENV', 'CORS_ORIGINS'],
    check(config) {
      const any = config.api.http.corsOrigins.split(',').some((origin) => origin.trim() === '*')
      if (!any || config.nodeEnv !== 'production') return []
      return ['CORS_ORIGINS=* is refused when NODE_ENV=production; list the allowed origins']
    },
  },
  {
    // DESIGN: the api refuses to run unless some issuer can vouch for a caller.
    reads: [
      'AUTH_ISSUER',
      'AUTH_AUDIENCE',
      'AUTH_JWKS_URL',
      'AUTH_JWT_SECRET',
      'AUTH_ACCOUNTS',
      'AUTH_ACCOUNTS_SECRET',
      'AUTH_ACCOUNTS_BASE_URL',
    ],
    check(config) {
      const { issuer, audience, jwksUrl, jwtSecret, accounts } = config.api.auth
      const problems: string[] = []
      const external = issuer !== undefined || audience !== undefined || jwksUrl !== undefined || jwtSecret !== undefined
      if (external) {
        if (issuer === undefined) problems.push('AUTH_ISSUER is required with AUTH_AUDIENCE, AUTH_JWKS_URL or AUTH_JWT_SECRET')
        if (audience === undefined) problems.push('AUTH_AUDIENCE is required with AUTH_ISSUER')
        if ((jwksUrl === undefined) === (jwtSecret === undefined))
          problems.push('exactly one of AUTH_JWKS_URL or AUTH_JWT_SECRET is required with AUTH_ISSUER')
        if (jwksUrl !== undefined && !URL.canParse(jwksUrl)) problems.push(`AUTH_JWKS_URL must be a URL; got ${JSON.stringify(jwksUrl)}`)
      }
      if (accounts.enabled) {
        if (accounts.secret === undefined) problems.push('AUTH_ACCOUNTS_SECRET is required when AUTH_ACCOUNTS=true')
        if (accounts.baseUrl === undefined || !URL.canParse(accounts.baseUrl))
          problems.push('AUTH_ACCOUNTS_BASE_URL (a URL) is required when AUTH_ACCOUNTS=true')
      }
      if (!external && !accounts.enabled) {
        problems.push(
          'no way to authenticate callers: set AUTH_ISSUER with AUTH_AUDIENCE and AUTH_JWKS_URL (or AUTH_JWT_SECRET), or AUTH_ACCOUNTS=true',
        )
      }
      return problems
    },
  },
]

const processorRules: Rule<Static<(typeof ConfigSchemas)['processor']>>[] = [
  {
    reads: ['WEBHOOK_URL', 'WEBHOOK_SECRET'],
    check(config) {
      const { url, secret } = config.processor.webhooks
      const problems: string[] = []
      if (url !== undefined && !(URL.canParse(url) && ['http:', 'https:'].includes(new URL(url).protocol)))
        problems.push(`WEBHOOK_URL must be an http or https URL; got ${JSON.stringify(url)}`)
      if ((url === undefined) !== (secret === undefined)) problems.push('WEBHOOK_URL and WEBHOOK_SECRET go together: set both or neither')
      return problems
    },
  },
  {
    reads: ['JOBS_QUEUE_URL', 'FAL_KEY'],
    check(config) {
      const { jobsQueueUrl, falKey } = config.processor.processing
      return jobsQueueUrl !== undefined && falKey === undefined
        ? ['FAL_KEY is required with JOBS_QUEUE_URL (the processor runs AI jobs)']
        : []
    },
  },
  {
    reads: ['FAL_BASE_URL', 'PUBLIC_BASE_URL'],
    check(config) {
      const { falBaseUrl, publicBaseUrl } = config.processor.processing
      return [
        ...(falBaseUrl !== undefined && !URL.canParse(falBaseUrl) ? [`FAL_BASE_URL must be a URL; got ${JSON.stringify(falBaseUrl)}`] : []),
        ...(publicBaseUrl !== undefined && !URL.canParse(publicBaseUrl)
          ? [`PUBLIC_BASE_URL must be a URL; got ${JSON.stringify(publicBaseUrl)}`]
          : []),
      ]
    },
  },
]

const rules: Rules = { api: apiRules, processor: processorRules, migrate: [] }

/** The variables of one schema, nested as the schema nests them. Empty strings count as unset. */
function read(variables: ConfigVariable[], source: EnvSource): Record<string, unknown> {
  const raw: Record<string, unknown> = {}
  for (const { name, path } of variables) {
    let target = raw
    for (const key of path.slice(0, -1)) {
      target[key] ??= {}
      target = target[key] as Record<string, unknown>
    }
    const value = source[name]
    if (value !== undefined && value !== '') target[path.at(-1) as string] = value
  }
  return raw
}

function parse<S extends ConfigSection>(section: S, source: EnvSource): ConfigOf[S] {
  const schema: TObject = ConfigSchemas[section]
  const variables = variablesOf(schema)
  const byPath = new Map(variables.map((v) => [`/${v.path.join('/')}`, v]))
  const value = Value.Default(schema, Value.Convert(schema, read(variables, source)))

  const problems: string[] = []
  const malformed = new Set<string>()
  for (const error of Value.Errors(schema, value)) {
    const variable = byPath.get(error.path)
    const name = variable?.name ?? error.path
    if (malformed.has(name)) continue
    malformed.add(name)
    const given = source[name]
    problems.push(
      given === undefined || given === ''
        ? `${name} is required (${variable?.schema.description ?? 'no description'})`
        : `${name} ${error.message.toLowerCase()}; got ${shownValue(name, given)}`,
    )
  }
  for (const rule of rules[section] as Rule<unknown>[]) {
    if (rule.reads.some((name) => malformed.has(name))) continue
    problems.push(...rule.check(value))
  }
  if (problems.length > 0) throw new ConfigError(problems)

  try {
    return Value.Decode(schema, value) as ConfigOf[S]
  } catch (error) {
    // A decode reads what the rules cannot check beforehand, e.g. the CloudFront key file.
    if (error instanceof TransformDecodeError) throw new ConfigError([error.error.message])
    throw error
  }
}

/**
 * Loads and validates one entry point's configuration; throws one ConfigError naming every
 * problem. Loading from process.env itself also removes CLOUDFRONT_PRIVATE_KEY from it, so
 * the key does not outlive start-up in the environment (child processes, diagnostic reports).
 */
export function loadConfig<S extends ConfigSection>(source: EnvSource, section: S): ConfigOf[S] {
  try {
    return parse(section, source)
  } finally {
    if (source === process.env) delete process.env.CLOUDFRONT_PRIVATE_KEY
  }
}

/** For entry points: the configuration, or every problem on stderr and exit code 1. */
export function loadConfigOrExit<S extends ConfigSection>(section: S, source: EnvSource = process.env): ConfigOf[S] {
  try {
    return loadConfig(source, section)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`${error.message}\n`)
    process.exit(1)
  }
}
