import { newImageId } from '@image-service/foundation'
import { Value } from '@sinclair/typebox/value'
import '../testing/formats.ts'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ErrorResponse } from '../http/schemas.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'
import { ImageStatusResponse } from './images.ts'

describe('GET /api/image/v1/images/:image_id', () => {
  let api: TestApi

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-images')
  })
  afterAll(async () => {
    await api?.close()
  })

  it('answers 200 with the record of an upload', async () => {
    const created = await api.inject({
      method: 'POST',
      url: '/api/image/v1/upload/create-presigned-url',
      payload: { content_type: 'image/avif', file_name: 'Фото 🐈.avif' },
    })
    const { image_id } = created.json<{ image_id: string }>()
    const response = await api.inject({ method: 'GET', url: `/api/image/v1/images/${image_id}` })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(Value.Check(ImageStatusResponse, body)).toBe(true)
    expect(body).toEqual({
      image_id,
      status: 'pending',
      content_type: 'image/avif',
      file_name: 'Фото 🐈.avif',
      size_bytes: null,
      width: null,
      height: null,
      failure_reason: null,
      variants: [],
      placeholder: null,
      metadata_removed: [],
      labels: {},
      source_image_id: null,
      job_id: null,
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    })
  })

  it('answers 404 IMAGE_NOT_FOUND for an unknown id', async () => {
    const response = await api.inject({ method: 'GET', url: `/api/image/v1/images/${newImageId()}` })
    expect(response.statusCode).toBe(404)
    expect(Value.Check(ErrorResponse, response.json())).toBe(true)
    expect(response.json()).toMatchObject({ statusCode: 404, error: 'Not Found', code: 'IMAGE_NOT_FOUND' })
  })

  it.each([
    'not-a-ulid',
    '01ARZ3NDEKTSV4RRFFQ69G5FA',
    '81ARZ3NDEKTSV4RRFFQ69G5FAV',
    '01ARZ3NDEKTSV4RRFFQ69G5FAU',
    '01arz3ndektsv4rrffq69g5fav',
  ])('answers 400 INVALID_IMAGE_ID for %j', async (id) => {
    const response = await api.inject({ method: 'GET', url: `/api/image/v1/images/${id}` })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'INVALID_IMAGE_ID' })
  })

  it('answers 404 ROUTE_NOT_FOUND for an unknown route', async () => {
    const response = await api.inject({ method: 'GET', url: '/api/image/v1/nothing-here?x=1' })
    expect(response.statusCode).toBe(404)
    expect(Value.Check(ErrorResponse, response.json())).toBe(true)
    expect(response.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND', message: 'route GET /api/image/v1/nothing-here does not exist' })
  })
})
