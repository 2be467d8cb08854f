import { Writable } from 'node:stream'
import { AppError, DependencyUnavailableError, type ErrorKind } from '@image-service/foundation'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { registerErrorHandling } from './errors.ts'
import { requestLogController } from './request-log.ts'

type LogLine = { level: number; code?: string; msg?: string }
const apps: ReturnType<typeof Fastify>[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

/** A bare app whose only route throws the given error; its log lines are captured. */
function appThrowing(error: unknown) {
  const lines: LogLine[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as LogLine)
      done()
    },
  })
  const app = Fastify({ logger: { level: 'info', stream }, logController: requestLogController() })
  apps.push(app)
  registerErrorHandling(app)
  app.get('/boom', async () => {
    throw error
  })
  return { app, lines }
}

describe('error mapping', () => {
  it.each<[ErrorKind, number, string]>([
    ['invalid', 400, 'Bad Request'],
    ['unauthenticated', 401, 'Unauthorized'],
    ['forbidden', 403, 'Forbidden'],
    ['not_found', 404, 'Not Found'],
    ['conflict', 409, 'Conflict'],
    ['unavailable', 503, 'Service Unavailable'],
    ['internal', 500, 'Internal Server Error'],
  ])('maps an AppError of kind %s to %i', async (kind, statusCode, error) => {
    const { app } = appThrowing(new AppError(kind, 'SOME_CODE', 'details for the client'))
    const response = await app.inject({ method: 'GET', url: '/boom' })
    expect(response.statusCode).toBe(statusCode)
    expect(response.json()).toMatchObject({ statusCode, error, code: 'SOME_CODE' })
  })

  it('keeps 4xx messages and logs them below error level', async () => {
    const { app, lines } = appThrowing(new AppError('invalid', 'INVALID_THING', 'thing must be blue'))
    const response = await app.inject({ method: 'GET', url: '/boom' })
    expect(response.json().message).toBe('thing must be blue')
    const line = lines.find((l) => l.code === 'INVALID_THING')
    expect(line?.level).toBe(30)
    expect(lines.some((l) => l.level >= 50)).toBe(false)
  })

  it('hides dependency details from clients and logs the outage as an error', async () => {
    const cause = new Error('connect ECONNREFUSED 10.0.0.7:5432')
    const { app, lines } = appThrowing(new DependencyUnavailableError('DATABASE_UNAVAILABLE', `db: ${cause.message}`, { cause }))
    const response = await app.inject({ method: 'GET', url: '/boom' })
    expect(response.statusCode).toBe(503)
    expect(response.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'DATABASE_UNAVAILABLE',
      message: 'a dependency is temporarily unavailable; retry later',
    })
    expect(lines.find((l) => l.level === 50)?.code).toBe('DATABASE_UNAVAILABLE')
  })

  it('answers 500 INTERNAL_ERROR to anything unexpected, without its message', async () => {
    const { app, lines } = appThrowing(new TypeError('cannot read properties of undefined (secret stuff)'))
    const response = await app.inject({ method: 'GET', url: '/boom' })
    expect(response.statusCode).toBe(500)
    expect(response.json()).toEqual({ statusCode: 500, error: 'Internal Server Error', code: 'INTERNAL_ERROR', message: 'internal error' })
    expect(lines.find((l) => l.level === 50)?.code).toBe('INTERNAL_ERROR')
  })

  it('answers 404 ROUTE_NOT_FOUND for unknown routes', async () => {
    const { app } = appThrowing(new Error('unused'))
    const response = await app.inject({ method: 'POST', url: '/nowhere' })
    expect(response.statusCode).toBe(404)
    expect(response.json()).toMatchObject({ statusCode: 404, error: 'Not Found', code: 'ROUTE_NOT_FOUND' })
  })
})
