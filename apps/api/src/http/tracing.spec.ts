import { trace } from '@opentelemetry/api'
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { startTracing, type Tracing } from '@image-service/foundation'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'

describe('request spans (@fastify/otel)', () => {
  const exporter = new InMemorySpanExporter()
  let tracing: Tracing
  let api: TestApi
  let traced: ApiApp

  beforeAll(async () => {
    tracing = startTracing({ serviceName: 'image-service-api', exporter })
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-tracing')
    // The endpoint turns request spans on; where they go is the registered provider's business.
    traced = await api.variant({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })
  })
  afterAll(async () => {
    await api?.close()
    await tracing?.shutdown()
    trace.disable()
  })

  /** The root span of the request to `route` (the request span, not its hook and handler spans). */
  const requestSpan = (route: string): ReadableSpan | undefined =>
    exporter
      .getFinishedSpans()
      .filter((span) => span.attributes['http.route'] === route && span.parentSpanContext === undefined)
      .at(-1)

  it('names the route template, and carries the image id from the answer, the path and the body', async () => {
    const created = await api.inject(
      {
        method: 'POST',
        url: '/api/image/v1/upload/create-presigned-url',
        payload: { content_type: 'image/png', file_name: 'a.png' },
      },
      { app: traced },
    )
    expect(created.statusCode).toBe(201)
    const imageId = created.json<{ image_id: string }>().image_id
    expect(requestSpan('/api/image/v1/upload/create-presigned-url')?.attributes).toMatchObject({
      'image.id': imageId,
      'http.request.method': 'POST',
      'http.response.status_code': 201,
    })

    expect((await api.inject({ method: 'GET', url: `/api/image/v1/images/${imageId}` }, { app: traced })).statusCode).toBe(200)
    expect(requestSpan('/api/image/v1/images/:image_id')?.attributes['image.id']).toBe(imageId)

    await api.inject({ method: 'POST', url: '/api/image/v1/download/get-signed-urls', payload: { image_ids: [imageId] } }, { app: traced })
    expect(requestSpan('/api/image/v1/download/get-signed-urls')?.attributes['image.ids']).toEqual([imageId])
  })

  it('leaves probes out, and never records a credential', async () => {
    await api.inject({ method: 'GET', url: '/api/health/liveness' }, { app: traced })
    expect(exporter.getFinishedSpans().some((span) => String(span.attributes['http.route'] ?? '').startsWith('/api/health/'))).toBe(false)

    // Requests carry JWTs (eyJ…): none may appear, nor the Authorization header itself.
    const values = exporter.getFinishedSpans().flatMap((span) => Object.values(span.attributes).map(String))
    expect(values.length).toBeGreaterThan(0)
    expect(values.some((value) => value.includes('eyJ') || value.toLowerCase().includes('bearer'))).toBe(false)
  })

  it('is off without OTEL_EXPORTER_OTLP_ENDPOINT: the plain app makes no spans', async () => {
    exporter.reset()
    await api.inject({
      method: 'POST',
      url: '/api/image/v1/upload/create-presigned-url',
      payload: { content_type: 'image/png', file_name: 'b.png' },
    })
    expect(exporter.getFinishedSpans()).toEqual([])
  })
})
