import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { REDACT_PATHS, redactUrl } from './logger.ts'

function capture() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
      done()
    },
  })
  return { lines, log: pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream) }
}

describe('logger', () => {
  it('never writes the CloudFront key, the metrics token, the database URL or credentials', () => {
    const { lines, log } = capture()
    const secret = '-----BEGIN PRIVATE KEY-----abc'
    log.info({
      env: { CLOUDFRONT_PRIVATE_KEY: secret, DATABASE_URL: 'postgres://u:pw@h/db', DATABASE_LISTEN_URL: 'postgres://u:pw@h/db' },
      config: {
        api: { cdn: { privateKey: secret }, http: { metricsToken: 'metrics-tok' }, recordCache: { listenUrl: 'postgres://u:pw@h/db' } },
        database: { url: 'postgres://u:pw@h/db' },
      },
      credentials: { secretAccessKey: 'sk' },
      req: { headers: { authorization: 'Bearer t' } },
    })
    const written = JSON.stringify(lines)
    for (const leaked of [secret, 'pw@', '"sk"', 'Bearer t', 'metrics-tok']) expect(written).not.toContain(leaked)
    expect(written).toContain('[redacted]')
  })

  it('masks the password of a connection string', () => {
    expect(redactUrl('postgres://user:s3cret@db:5432/images')).toBe('postgres://user:***@db:5432/images')
    expect(redactUrl('not a url')).toBe('[unparseable url]')
  })
})
