import { Value } from '@sinclair/typebox/value'
import '../testing/formats.ts'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { ErrorResponse } from '../http/schemas.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'
import { UsageResponse } from './usage.ts'

const MAX_UPLOAD_BYTES = 10_485_760

describe('quotas over HTTP', () => {
  let api: TestApi
  let small: ApiApp

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-usage')
    small = await api.variant({ QUOTA_MAX_IMAGES: '2', QUOTA_MAX_BYTES: '3000' })
  })
  afterAll(async () => {
    await api?.close()
  })

  const presign = (owner: string, extra: Record<string, unknown> = {}, app?: ApiApp) =>
    api.inject(
      {
        method: 'POST',
        url: '/api/image/v1/upload/create-presigned-url',
        payload: { content_type: 'image/png', file_name: 'a.png', ...extra },
      },
      { owner, ...(app === undefined ? {} : { app }) },
    )
  const usage = async (owner: string, query = '', as: { admin?: boolean; app?: ApiApp } = {}) =>
    api.inject({ method: 'GET', url: `/api/image/v1/usage${query}` }, { owner, ...as })

  it('reports images, bytes, reserved_bytes and the limits; a declared size reserves exactly that, none reserves MAX_UPLOAD_BYTES', async () => {
    const empty = await usage('usage-alice')
    expect(empty.statusCode).toBe(200)
    expect(empty.json()).toEqual({ images: 0, bytes: 0, reserved_bytes: 0, max_images: 10_000, max_bytes: 5_368_709_120 })
    expect((await presign('usage-alice', { size_bytes: 1234 })).statusCode).toBe(201)
    expect((await presign('usage-alice')).statusCode).toBe(201)
    const after = await usage('usage-alice')
    expect(Value.Check(UsageResponse, after.json())).toBe(true)
    expect(after.json()).toMatchObject({ images: 2, bytes: 0, reserved_bytes: 1234 + MAX_UPLOAD_BYTES })
  })

  it('gives the reservation back when the pending upload is deleted', async () => {
    const created = await presign('usage-bob', { size_bytes: 500 })
    const { image_id } = created.json<{ image_id: string }>()
    expect((await usage('usage-bob')).json()).toMatchObject({ images: 1, reserved_bytes: 500 })
    expect((await api.inject({ method: 'DELETE', url: `/api/image/v1/images/${image_id}` }, 'usage-bob')).statusCode).toBe(204)
    expect((await usage('usage-bob')).json()).toMatchObject({ images: 0, bytes: 0, reserved_bytes: 0 })
  })

  it('answers 403 QUOTA_EXCEEDED naming the limit that was hit', async () => {
    expect((await presign('usage-carol', { size_bytes: 2000 }, small)).statusCode).toBe(201)
    const bytes = await presign('usage-carol', { size_bytes: 1001 }, small)
    expect(bytes.statusCode).toBe(403)
    expect(Value.Check(ErrorResponse, bytes.json())).toBe(true)
    expect(bytes.json()).toMatchObject({ code: 'QUOTA_EXCEEDED', message: expect.stringContaining('max_bytes 3000') })
    expect((await presign('usage-carol', { size_bytes: 1000 }, small)).statusCode).toBe(201)
    const images = await presign('usage-carol', { size_bytes: 1 }, small)
    expect(images.statusCode).toBe(403)
    expect(images.json()).toMatchObject({ code: 'QUOTA_EXCEEDED', message: expect.stringContaining('max_images 2') })
    expect((await usage('usage-carol', '', { app: small })).json()).toEqual({
      images: 2,
      bytes: 0,
      reserved_bytes: 3000,
      max_images: 2,
      max_bytes: 3000,
    })
  })

  it('refuses size_bytes above MAX_UPLOAD_BYTES with 400 FILE_TOO_LARGE, and a non-integer with 400 INVALID_SIZE_BYTES', async () => {
    const tooLarge = await presign('usage-dave', { size_bytes: MAX_UPLOAD_BYTES + 1 })
    expect(tooLarge.statusCode).toBe(400)
    expect(tooLarge.json()).toMatchObject({ code: 'FILE_TOO_LARGE' })
    const invalid = await presign('usage-dave', { size_bytes: '12' })
    expect(invalid.statusCode).toBe(400)
    expect(invalid.json()).toMatchObject({ code: 'INVALID_SIZE_BYTES' })
    expect((await usage('usage-dave')).json()).toMatchObject({ images: 0 })
  })

  it("lets an images:admin caller read another owner's usage with owner_id, and nobody else (403)", async () => {
    await presign('usage-erin', { size_bytes: 77 })
    const asAdmin = await usage('root', '?owner_id=usage-erin', { admin: true })
    expect(asAdmin.statusCode).toBe(200)
    expect(asAdmin.json()).toMatchObject({ images: 1, reserved_bytes: 77 })
    const asStranger = await usage('usage-frank', '?owner_id=usage-erin')
    expect(asStranger.statusCode).toBe(403)
    expect(asStranger.json()).toMatchObject({ code: 'FORBIDDEN' })
    // Naming oneself is fine.
    expect((await usage('usage-erin', '?owner_id=usage-erin')).statusCode).toBe(200)
  })

  it('answers 401 without a token', async () => {
    expect((await api.app.inject({ method: 'GET', url: '/api/image/v1/usage' })).statusCode).toBe(401)
  })
})
