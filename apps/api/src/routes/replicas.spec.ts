import { createPostgresImageRepository, type ImageId } from '@image-service/foundation'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { parsePrometheusText, samplesOf, sampleValue } from '../testing/prometheus-text.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])

/**
 * Two api replicas on one database: each keeps the ready records it read in memory
 * (IMAGE_RECORD_CACHE_SIZE), and a change made anywhere reaches the other as an announcement.
 */
describe('ready records kept by each replica', () => {
  let api: TestApi
  let other: ApiApp
  let uncached: ApiApp
  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-replicas')
    other = await api.variant({})
    uncached = await api.variant({ IMAGE_RECORD_CACHE_SIZE: '0' })
  })
  afterAll(async () => {
    await api?.close()
  })

  async function readyImage(owner: string): Promise<ImageId> {
    const created = await api.inject(
      { method: 'POST', url: '/api/image/v1/upload/create-presigned-url', payload: { content_type: 'image/png', file_name: 'a.png' } },
      owner,
    )
    expect(created.statusCode).toBe(201)
    const body = created.json<{ image_id: ImageId; upload_url: string; upload_headers: Record<string, string> }>()
    expect((await fetch(body.upload_url, { method: 'PUT', headers: body.upload_headers, body: PNG })).status).toBe(200)
    await createPostgresImageRepository(api.database.db).transitionFromPending(body.image_id, { status: 'ready', sizeBytes: 12, etag: 'e' })
    return body.image_id
  }
  /** Renames the record behind every replica's back: triggers off, so nothing is announced. */
  async function renameSilently(id: ImageId, fileName: string): Promise<void> {
    await api.database.sql.begin(async (tx) => {
      await tx`SET LOCAL session_replication_role = replica`
      await tx`UPDATE image_records SET file_name = ${fileName} WHERE id = ${id}`
    })
  }
  const status = (app: ApiApp, id: ImageId, owner = 'owner-r') =>
    api.inject({ method: 'GET', url: `/api/image/v1/images/${id}` }, { app, owner })
  const sign = (app: ApiApp, id: ImageId, owner = 'owner-r') =>
    api.inject({ method: 'GET', url: `/api/image/v1/download/get-signed-url/${id}` }, { app, owner })

  it('answers a ready record it read from memory, and stops once another replica deletes it', async () => {
    const id = await readyImage('owner-r')
    expect((await sign(api.app, id)).statusCode).toBe(200)
    await renameSilently(id, 'renamed.png')
    // From memory on this replica; from the database on one that keeps nothing.
    expect((await status(api.app, id)).json()).toMatchObject({ status: 'ready', file_name: 'a.png' })
    expect((await status(uncached, id)).json()).toMatchObject({ status: 'ready', file_name: 'renamed.png' })

    expect((await api.inject({ method: 'DELETE', url: `/api/image/v1/images/${id}` }, { app: other, owner: 'owner-r' })).statusCode).toBe(
      204,
    )

    await expect.poll(async () => (await sign(api.app, id)).statusCode).toBe(404)
    expect((await status(api.app, id)).json()).toMatchObject({ status: 'deleted' })
  })

  it('never answers a delete made through itself with the record it kept', async () => {
    const id = await readyImage('owner-r')
    expect((await sign(api.app, id)).statusCode).toBe(200)
    expect((await api.inject({ method: 'DELETE', url: `/api/image/v1/images/${id}` }, 'owner-r')).statusCode).toBe(204)
    expect((await sign(api.app, id)).statusCode).toBe(404)
  })

  it('shows on /metrics what it keeps, that it hears, and how reads were answered', async () => {
    const id = await readyImage('owner-r')
    const before = parsePrometheusText((await api.app.inject({ method: 'GET', url: '/metrics' })).body)
    await sign(api.app, id)
    await sign(api.app, id)
    const after = parsePrometheusText((await api.app.inject({ method: 'GET', url: '/metrics' })).body)
    const reads = (text: typeof after, result: string) => sampleValue(text, 'image_record_cache_reads_total', { result }) ?? 0
    expect(reads(after, 'miss') - reads(before, 'miss')).toBe(1)
    expect(reads(after, 'hit') - reads(before, 'hit')).toBe(1)
    expect(sampleValue(after, 'image_record_cache_listening', {})).toBe(1)
    expect(sampleValue(after, 'image_record_cache_records', {})).toBeGreaterThanOrEqual(1)
    // A replica that keeps nothing has no such series.
    const none = parsePrometheusText((await uncached.inject({ method: 'GET', url: '/metrics' })).body)
    expect(samplesOf(none, 'image_record_cache_listening')).toEqual([])
  })

  it('keeps a record for its owner only: another owner gets 404, singly and in a batch', async () => {
    const id = await readyImage('owner-r')
    expect((await sign(api.app, id)).statusCode).toBe(200)
    expect((await sign(api.app, id, 'owner-s')).statusCode).toBe(404)
    expect((await status(api.app, id, 'owner-s')).statusCode).toBe(404)
    const batch = await api.inject(
      { method: 'POST', url: '/api/image/v1/download/get-signed-urls', payload: { image_ids: [id] } },
      { app: api.app, owner: 'owner-s' },
    )
    expect(batch.json()).toEqual({ items: [], not_found: [id] })
  })
})
