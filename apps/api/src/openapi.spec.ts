import SwaggerParser from '@apidevtools/swagger-parser'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ErrorResponse } from './http/schemas.ts'
import { startTestApi, type TestApi } from './testing/test-api.ts'
import { ImageStatusResponse } from './routes/images.ts'
import { CreatePresignedUrlBody, CreatePresignedUrlResponse } from './routes/upload.ts'

type Security = Record<string, string[]>[]
type Document = {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components?: { securitySchemes?: Record<string, { type: string; scheme?: string }> }
  security?: Security
}
type Operation = {
  security?: Security
  requestBody?: { content: Record<string, { schema: unknown }> }
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>
}

/**
 * A TypeBox schema as the document shows it: symbol keys dropped, and `const` written as a
 * one-value `enum` (@fastify/swagger's only rewrite of our schemas).
 */
const json = (schema: unknown) =>
  JSON.parse(JSON.stringify(schema), (_key, value: unknown) => {
    if (value === null || typeof value !== 'object' || !('const' in value)) return value
    const { const: only, ...rest } = value as Record<string, unknown>
    return { ...rest, enum: [only] }
  }) as unknown

describe('OpenAPI document', () => {
  let api: TestApi
  let document: Document

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-openapi')
    const response = await api.inject({ method: 'GET', url: '/api/openapi.json' })
    expect(response.statusCode).toBe(200)
    document = response.json<Document>()
  })
  afterAll(async () => {
    await api?.close()
  })

  it('is a valid OpenAPI 3 document', async () => {
    expect(document.openapi).toMatch(/^3\./)
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined()
  })

  it('documents the upload route from the schemas the route validates with', () => {
    const operation = document.paths['/api/image/v1/upload/create-presigned-url']?.post
    expect(operation?.requestBody?.content['application/json']?.schema).toEqual(json(CreatePresignedUrlBody))
    expect(operation?.responses['201']?.content?.['application/json']?.schema).toEqual(json(CreatePresignedUrlResponse))
    for (const status of ['400', '413', '415', '500', '503']) {
      expect(operation?.responses[status]?.content?.['application/json']?.schema).toEqual(json(ErrorResponse))
    }
  })

  it('documents the image status, health routes and their errors', () => {
    const status = document.paths['/api/image/v1/images/{image_id}']?.get
    expect(status?.responses['200']?.content?.['application/json']?.schema).toEqual(json(ImageStatusResponse))
    expect(Object.keys(status?.responses ?? {}).sort()).toEqual(['200', '400', '401', '404', '500', '503'])
    expect(document.paths['/api/health/readiness']?.get?.responses['503']).toBeDefined()
    expect(document.paths['/api/health/liveness']?.get?.responses['200']).toBeDefined()
    // The document's own route is not part of the API it describes.
    expect(document.paths['/api/openapi.json']).toBeUndefined()
  })

  it("declares bearer authentication for every route, and lifts it for the health routes and fal's webhook only", () => {
    expect(document.components?.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
    expect(document.security).toEqual([{ bearerAuth: [] }])
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method, op })),
    )
    // An operation without `security` inherits the global bearerAuth; an open one says so.
    const open = operations.filter(({ op }) => op.security !== undefined && !op.security.some((s) => 'bearerAuth' in s))
    // fal's webhook carries fal's signature instead of a bearer token (DESIGN, "Identity and access").
    expect(open.map(({ path, method }) => `${method} ${path}`).sort()).toEqual([
      'get /api/health/liveness',
      'get /api/health/readiness',
      'post /api/image/v1/processing/webhooks/fal',
    ])
    for (const { op } of open) expect(op.security).toEqual([])
    expect(operations.filter(({ path }) => path.startsWith('/api/image/')).length).toBeGreaterThan(0)
  })

  it('serves the interactive documentation at /docs', async () => {
    const response = await api.inject({ method: 'GET', url: '/docs/' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toContain('text/html')
    expect(response.body).toContain('swagger')
  })
})
