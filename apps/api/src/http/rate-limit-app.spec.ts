import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'

const PRESIGN = '/api/image/v1/upload/create-presigned-url'

/** The limits as buildApp wires them from the configuration, on the real routes. */
describe('rate limits in the app', () => {
  let api: TestApi
  let app: ApiApp

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-rate-limit-app')
    app = await api.variant({ RATE_LIMIT_PER_MINUTE: '4', RATE_LIMIT_ISSUANCE_PER_MINUTE: '2', TRUST_PROXY: '127.0.0.1' })
  })
  afterAll(async () => {
    await api?.close()
  })

  it('limits the presign route to the issuance budget, owner by owner', async () => {
    const presign = (owner: string) =>
      api.inject({ method: 'POST', url: PRESIGN, payload: { content_type: 'image/png', file_name: 'a.png' } }, { app, owner })
    const codes = [(await presign('rl-a')).statusCode, (await presign('rl-a')).statusCode]
    const refused = await presign('rl-a')
    expect([...codes, refused.statusCode]).toEqual([201, 201, 429])
    expect(refused.json()).toMatchObject({ statusCode: 429, error: 'Too Many Requests', code: 'RATE_LIMITED' })
    expect(refused.headers).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '0' })
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect((await presign('rl-b')).statusCode).toBe(201)
  })

  it('counts 401s by the client that TRUST_PROXY names, and leaves health and docs alone', async () => {
    const bad = (client: string) =>
      app.inject({ url: '/api/image/v1/images', headers: { authorization: 'Bearer nope', 'x-forwarded-for': client } })
    const codes: number[] = []
    for (let i = 0; i < 5; i++) codes.push((await bad('192.0.2.10')).statusCode)
    expect(codes).toEqual([401, 401, 401, 401, 429])
    expect((await bad('192.0.2.11')).statusCode).toBe(401)
    for (const url of ['/api/health/liveness', '/api/openapi.json', '/docs/json', '/metrics']) {
      for (let i = 0; i < 5; i++)
        expect((await app.inject({ url, headers: { 'x-forwarded-for': '192.0.2.10' } })).statusCode, url).toBe(200)
    }
  })
})
