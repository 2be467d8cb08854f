import { DURATION_BUCKETS_SECONDS, newImageId } from '@image-service/foundation'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { parsePrometheusText, samplesOf, sampleValue } from '../testing/prometheus-text.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'

const DURATION = 'http_server_request_duration_seconds'
const TOKEN = 'metrics-token-for-the-spec-0123456789'

async function scrape(app: ApiApp, headers: Record<string, string> = {}) {
  const response = await app.inject({ method: 'GET', url: '/metrics', headers })
  expect(response.statusCode).toBe(200)
  return parsePrometheusText(response.body)
}

const count = (route: string, status: number, method = 'GET') => ({
  http_request_method: method,
  http_route: route,
  http_response_status_code: String(status),
})

describe('GET /metrics', () => {
  let api: TestApi

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-metrics')
  })
  afterAll(async () => {
    await api?.close()
  })

  it('counts requests by method, route template and status, never by raw path', async () => {
    const app = await api.variant({})
    const unknownId = newImageId()
    for (const url of [
      '/api/health/liveness',
      '/api/health/liveness',
      `/api/image/v1/images/${unknownId}`,
      '/api/image/v1/images/not-an-id',
    ]) {
      await api.inject({ method: 'GET', url }, { app })
    }
    await app.inject({ method: 'POST', url: '/nowhere/01ARZ3NDEKTSV4RRFFQ69G5FAV?secret=x' })

    const response = await app.inject({ method: 'GET', url: '/metrics' })
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    const samples = parsePrometheusText(response.body)
    const counted = (labels: Record<string, string>) => sampleValue(samples, `${DURATION}_count`, labels)

    expect(counted(count('/api/health/liveness', 200))).toBe(2)
    expect(counted(count('/api/image/v1/images/:image_id', 404))).toBe(1)
    expect(counted(count('/api/image/v1/images/:image_id', 400))).toBe(1)
    expect(counted(count('unmatched', 404, 'POST'))).toBe(1)
    const routes = new Set(samplesOf(samples, `${DURATION}_count`).map((s) => s.labels.http_route))
    expect([...routes].sort()).toEqual(['/api/health/liveness', '/api/image/v1/images/:image_id', 'unmatched'])
    expect(response.body).not.toContain(unknownId)
    expect(response.body).not.toContain('nowhere')

    // OpenTelemetry's buckets, and a sum that took the time.
    const buckets = samplesOf(samples, `${DURATION}_bucket`, count('/api/health/liveness', 200)).map((s) => s.labels.le)
    expect(buckets).toEqual([...DURATION_BUCKETS_SECONDS.map(String), '+Inf'])
    expect(sampleValue(samples, `${DURATION}_bucket`, { ...count('/api/health/liveness', 200), le: '+Inf' })).toBe(2)
    expect(sampleValue(samples, `${DURATION}_sum`, count('/api/health/liveness', 200))).toBeGreaterThan(0)
  })

  it('moves the count, the sum and the buckets with every request, its own scrapes included', async () => {
    const app = await api.variant({})
    await app.inject({ method: 'GET', url: '/api/health/liveness' })
    const before = await scrape(app)
    await app.inject({ method: 'GET', url: '/api/health/liveness' })
    const after = await scrape(app)

    const liveness = count('/api/health/liveness', 200)
    expect(sampleValue(after, `${DURATION}_count`, liveness)).toBe((sampleValue(before, `${DURATION}_count`, liveness) ?? 0) + 1)
    expect(sampleValue(after, `${DURATION}_sum`, liveness)).toBeGreaterThan(sampleValue(before, `${DURATION}_sum`, liveness) ?? 0)
    expect(sampleValue(after, `${DURATION}_bucket`, { ...liveness, le: '+Inf' })).toBe(2)
    expect(sampleValue(before, `${DURATION}_count`, count('/metrics', 200))).toBeUndefined()
    expect(sampleValue(after, `${DURATION}_count`, count('/metrics', 200))).toBe(1)
  })

  it('exports the default process and Node.js metrics', async () => {
    const names = new Set((await scrape(api.app)).map((s) => s.name))
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(names, name).toContain(name)
    }
  })

  it('is public without METRICS_TOKEN and absent from the OpenAPI document', async () => {
    expect((await api.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200)
    const document = (await api.inject({ method: 'GET', url: '/api/openapi.json' })).json<{ paths: Record<string, unknown> }>()
    expect(Object.keys(document.paths)).not.toContain('/metrics')
  })

  it('wants the bearer token when METRICS_TOKEN is set, answering 401 in the error shape otherwise', async () => {
    const app = await api.variant({ METRICS_TOKEN: TOKEN })
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN, 'Bearer ']) {
      const response = await app.inject({ method: 'GET', url: '/metrics', headers: authorization === undefined ? {} : { authorization } })
      expect(response.statusCode, String(authorization)).toBe(401)
      expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
      expect(response.json()).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        code: 'UNAUTHENTICATED',
        message: '/metrics needs the metrics bearer token',
      })
      expect(response.body).not.toContain(TOKEN)
    }
    expect((await scrape(app, { authorization: `Bearer ${TOKEN}` })).length).toBeGreaterThan(0)
    expect((await scrape(app, { authorization: `bearer ${TOKEN}` })).length).toBeGreaterThan(0)
    // The token guards /metrics only.
    expect((await app.inject({ method: 'GET', url: '/api/health/liveness' })).statusCode).toBe(200)
  })
})
