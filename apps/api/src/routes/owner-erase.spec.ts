import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startTestApi, type TestApi } from '../testing/test-api.ts'

describe('POST /api/image/v1/owner/erase', () => {
  let api: TestApi

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-erase')
  })
  afterAll(async () => {
    await api?.close()
  })

  it('records the erasure (202) and usage shows it running; asking again while it runs changes nothing', async () => {
    await api.inject(
      { method: 'POST', url: '/api/image/v1/upload/create-presigned-url', payload: { content_type: 'image/png', file_name: 'a.png' } },
      'owner-erase',
    )
    expect((await api.inject({ method: 'GET', url: '/api/image/v1/usage' }, 'owner-erase')).json().erasure).toBeUndefined()
    const first = await api.inject({ method: 'POST', url: '/api/image/v1/owner/erase' }, 'owner-erase')
    expect(first.statusCode).toBe(202)
    expect(first.json()).toMatchObject({
      status: 'running',
      images_erased: 0,
      api_keys_erased: 0,
      records_remaining: 1,
      jobs_remaining: 0,
      completed_at: null,
    })
    const again = await api.inject({ method: 'POST', url: '/api/image/v1/owner/erase' }, 'owner-erase')
    expect(again.json().requested_at).toBe(first.json().requested_at)
    const usage = (await api.inject({ method: 'GET', url: '/api/image/v1/usage' }, 'owner-erase')).json()
    expect(usage.erasure).toEqual(first.json())
    // Another owner's usage says nothing of it.
    expect((await api.inject({ method: 'GET', url: '/api/image/v1/usage' }, 'owner-other')).json().erasure).toBeUndefined()
  })

  it('needs a caller (401)', async () => {
    const response = await api.app.inject({ method: 'POST', url: '/api/image/v1/owner/erase' })
    expect(response.statusCode).toBe(401)
  })
})
