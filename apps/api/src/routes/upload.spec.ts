import { Value } from '@sinclair/typebox/value'
import '../testing/formats.ts'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ErrorResponse } from '../http/schemas.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'
import { CreatePresignedUrlResponse } from './upload.ts'

const URL_PATH = '/api/image/v1/upload/create-presigned-url'

describe('POST /api/image/v1/upload/create-presigned-url', () => {
  let api: TestApi

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-upload')
  })
  afterAll(async () => {
    await api?.close()
  })

  const create = (payload: unknown) => api.inject({ method: 'POST', url: URL_PATH, payload: payload as object })

  it('answers 201 with a presigned URL that accepts the upload, and saves a pending record', async () => {
    const before = Date.now()
    const response = await create({ content_type: 'image/png', file_name: '../../cat photo.png' })
    expect(response.statusCode).toBe(201)
    const body = response.json()
    expect(Value.Check(CreatePresignedUrlResponse, body)).toBe(true)
    expect(Object.keys(body).sort()).toEqual(['expires_at', 'image_id', 'upload_headers', 'upload_url'])
    expect(body.upload_headers).toEqual({ 'content-type': 'image/png', 'if-none-match': '*' })
    // RFC 3339 UTC, and as far ahead as the configured TTL.
    expect(body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
    const ttlMs = api.config.api.upload.urlTtlSeconds * 1000
    expect(Date.parse(body.expires_at)).toBeGreaterThanOrEqual(before + ttlMs - 1000)
    expect(Date.parse(body.expires_at)).toBeLessThanOrEqual(Date.now() + ttlMs + 1000)
    expect(new URL(body.upload_url).pathname).toBe(`/spec-api-upload/uploads/${body.image_id}`)

    const status = await api.inject({ method: 'GET', url: `/api/image/v1/images/${body.image_id}` })
    expect(status.json()).toMatchObject({ image_id: body.image_id, status: 'pending', size_bytes: null, file_name: '../../cat photo.png' })

    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47])
    const wrongType = await fetch(body.upload_url, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: bytes })
    expect(wrongType.status).toBe(403)
    const upload = await fetch(body.upload_url, { method: 'PUT', headers: body.upload_headers, body: bytes })
    expect(upload.status).toBe(200)
    expect(await api.storage.getObjectMetadata(`uploads/${body.image_id}`)).toMatchObject({ sizeBytes: 4, contentType: 'image/png' })
    // The same URL cannot replace the bytes once they are there (If-None-Match: * is signed in).
    const overwrite = await fetch(body.upload_url, { method: 'PUT', headers: body.upload_headers, body: new Uint8Array([1]) })
    expect(overwrite.status).toBe(412)
  })

  it.each([
    ['a wildcard type', { content_type: 'image/*', file_name: 'a' }, 'INVALID_CONTENT_TYPE'],
    ['a type with parameters', { content_type: 'image/jpeg;text/html', file_name: 'a' }, 'INVALID_CONTENT_TYPE'],
    ['an upper-case type', { content_type: 'IMAGE/PNG', file_name: 'a' }, 'INVALID_CONTENT_TYPE'],
    ['svg', { content_type: 'image/svg+xml', file_name: 'a' }, 'INVALID_CONTENT_TYPE'],
    ['an empty type', { content_type: '', file_name: 'a' }, 'INVALID_CONTENT_TYPE'],
    ['an empty name', { content_type: 'image/png', file_name: '' }, 'INVALID_FILE_NAME'],
    ['a 256-character name', { content_type: 'image/png', file_name: 'a'.repeat(256) }, 'INVALID_FILE_NAME'],
    ['a name with a NUL', { content_type: 'image/png', file_name: 'a\u0000b' }, 'INVALID_FILE_NAME'],
    ['a name with a newline', { content_type: 'image/png', file_name: 'a\nb' }, 'INVALID_FILE_NAME'],
    ['an unknown field', { content_type: 'image/png', file_name: 'a', bucket: 'other' }, 'FST_ERR_VALIDATION'],
    ['a missing field', { content_type: 'image/png' }, 'FST_ERR_VALIDATION'],
    ['a number for a string', { content_type: 'image/png', file_name: 5 }, 'FST_ERR_VALIDATION'],
    ['an array body', [{ content_type: 'image/png', file_name: 'a' }], 'FST_ERR_VALIDATION'],
  ])('answers 400 to %s, saving nothing', async (_label, payload, code) => {
    const before = await api.countRecords()
    const response = await create(payload)
    expect(response.statusCode).toBe(400)
    const body = response.json()
    expect(Value.Check(ErrorResponse, body)).toBe(true)
    expect(body).toMatchObject({ statusCode: 400, error: 'Bad Request', code })
    expect(await api.countRecords()).toBe(before)
  })

  it('answers 400 to malformed JSON', async () => {
    const response = await api.inject({
      method: 'POST',
      url: URL_PATH,
      headers: { 'content-type': 'application/json' },
      payload: '{"content_type": "image/png", ',
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'FST_ERR_CTP_INVALID_JSON_BODY' })
  })

  it('answers 413 to a body over the limit', async () => {
    const response = await create({ content_type: 'image/png', file_name: 'a'.repeat(20_000) })
    expect(response.statusCode).toBe(413)
    expect(response.json()).toMatchObject({ statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' })
  })

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'application/xml'])('answers 415 to a %s body', async (type) => {
    const response = await api.inject({
      method: 'POST',
      url: URL_PATH,
      headers: { 'content-type': type },
      payload: 'content_type=image/png',
    })
    expect(response.statusCode).toBe(415)
    expect(response.json()).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type', code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' })
  })
})
