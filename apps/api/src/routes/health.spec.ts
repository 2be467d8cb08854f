import { closedPort } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startTestApi, type TestApi } from '../testing/test-api.ts'

describe('health and dependency outages', () => {
  let api: TestApi
  let deadDatabaseUrl: string

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-health')
    deadDatabaseUrl = `postgres://postgres@127.0.0.1:${await closedPort()}/nothing`
  })
  afterAll(async () => {
    await api?.close()
  })

  it('is alive and ready when the database answers', async () => {
    const live = await api.inject({ method: 'GET', url: '/api/health/liveness' })
    expect(live.statusCode).toBe(200)
    expect(live.json()).toEqual({ status: 'ok' })
    const ready = await api.inject({ method: 'GET', url: '/api/health/readiness' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ status: 'ok' })
  })

  it('is alive but not ready when the database does not answer', async () => {
    const app = await api.variant({ DATABASE_URL: deadDatabaseUrl })
    expect((await app.inject({ method: 'GET', url: '/api/health/liveness' })).statusCode).toBe(200)
    const ready = await app.inject({ method: 'GET', url: '/api/health/readiness' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable', code: 'DATABASE_UNAVAILABLE' })
  })

  it('answers 503 DATABASE_UNAVAILABLE to an upload and a status read when the database is down', async () => {
    const app = await api.variant({ DATABASE_URL: deadDatabaseUrl })
    const created = await api.inject(
      { method: 'POST', url: '/api/image/v1/upload/create-presigned-url', payload: { content_type: 'image/png', file_name: 'a.png' } },
      { app },
    )
    expect(created.statusCode).toBe(503)
    expect(created.json()).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE' })
    // No URL leaks out of a failed request, so nothing can be uploaded for a record that does not exist.
    expect(created.body).not.toContain('X-Amz-Signature')

    const status = await api.inject({ method: 'GET', url: '/api/image/v1/images/01ARZ3NDEKTSV4RRFFQ69G5FAV' }, { app })
    expect(status.statusCode).toBe(503)
    expect(status.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE' })
  })

  it('answers 503 STORAGE_UNAVAILABLE when storage cannot sign, leaving no record', async () => {
    const app = await api.variant(
      {},
      {
        s3Credentials: async () => {
          throw new Error('credential provider unreachable')
        },
      },
    )
    const before = await api.countRecords()
    const created = await api.inject(
      { method: 'POST', url: '/api/image/v1/upload/create-presigned-url', payload: { content_type: 'image/png', file_name: 'a.png' } },
      { app },
    )
    expect(created.statusCode).toBe(503)
    expect(created.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable', code: 'STORAGE_UNAVAILABLE' })
    expect(created.json().message).not.toContain('credential provider unreachable')
    expect(await api.countRecords()).toBe(before)
  })
})
