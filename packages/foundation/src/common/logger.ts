import { type DestinationStream, pino, type Logger } from 'pino'

export type { Logger }

/** Paths pino replaces with [redacted] wherever they appear in a log object. */
export const REDACT_PATHS = [
  'privateKey',
  '*.privateKey',
  'secretAccessKey',
  '*.secretAccessKey',
  'password',
  '*.password',
  'env.CLOUDFRONT_PRIVATE_KEY',
  'env.DATABASE_URL',
  'config.database.url',
  'env.DATABASE_LISTEN_URL',
  'config.api.recordCache.listenUrl',
  'config.api.cdn.privateKey',
  'config.api.http.metricsToken',
  'req.headers.authorization',
  'req.headers.cookie',
  'config.processor.webhooks.secret',
  'env.WEBHOOK_SECRET',
  'query.access_token',
  'req.query.access_token',
]

/** `destination` (stdout unless given) lets a test read exactly what would be written. */
export function createLogger(options: { level: string; pretty?: boolean; name?: string }, destination?: DestinationStream): Logger {
  const settings = {
    level: options.level,
    ...(options.name === undefined ? {} : { name: options.name }),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(options.pretty === true ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  }
  return destination === undefined ? pino(settings) : pino(settings, destination)
}

/** Removes user:password from a connection string so it can be printed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '[unparseable url]'
  }
}
