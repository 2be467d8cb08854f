import { generateDevKeyPair, startCloudFrontApiEmulator, type CloudFrontApiEmulator } from '@image-service/devstack'
import { readCorpusFile } from '@image-service/devstack/corpus'
import { createPostgresImageRepository, type ImageId } from '@image-service/foundation'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])

/**
 * Who sees what, over the real app: owner A's image is a 404 to owner B on every route (and
 * `not_found` in a batch); an admin reads across owners but never signs or deletes.
 */
describe('ownership on every route', () => {
  let api: TestApi
  let cloudFront: CloudFrontApiEmulator
  let withCdn: ApiApp
  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-ownership')
    cloudFront = await startCloudFrontApiEmulator()
    const keys = generateDevKeyPair()
    withCdn = await api.variant(
      {
        CDN_MODE: 'cloudfront',
        CDN_BASE_URL: 'http://127.0.0.1:9',
        CLOUDFRONT_KEY_PAIR_ID: keys.keyPairId,
        CLOUDFRONT_PRIVATE_KEY: keys.privateKeyPem,
        CLOUDFRONT_DISTRIBUTION_ID: cloudFront.distributionId,
        CLOUDFRONT_ENDPOINT: cloudFront.endpoint,
      },
      { s3Credentials: api.s3Credentials, cloudFrontCredentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    )
  })
  afterAll(async () => {
    await api?.close()
    await cloudFront?.stop()
  })

  async function uploadAs(owner: string, labels?: Record<string, string>): Promise<string> {
    const created = await api.inject(
      {
        method: 'POST',
        url: '/api/image/v1/upload/create-presigned-url',
        payload: { content_type: 'image/png', file_name: 'a.png', ...(labels ? { labels } : {}) },
      },
      owner,
    )
    expect(created.statusCode).toBe(201)
    const body = created.json<{ image_id: string; upload_url: string; upload_headers: Record<string, string> }>()
    expect((await fetch(body.upload_url, { method: 'PUT', headers: body.upload_headers, body: PNG })).status).toBe(200)
    // As the processor would: through the repository, so the owner's usage follows.
    await createPostgresImageRepository(api.database.db).transitionFromPending(body.image_id as ImageId, {
      status: 'ready',
      sizeBytes: PNG.length,
      etag: 'e',
    })
    return body.image_id
  }
  const get = (url: string, as: string | { owner: string; admin: boolean }) => api.inject({ method: 'GET', url }, as)

  it('answers 404 to another owner on status, signing and delete, exactly as for a missing id, and not_found in a batch', async () => {
    const id = await uploadAs('owner-a')
    const missing = '01ARZ3NDEKTSV4RRFFQ69G5FAV'
    for (const path of [`/api/image/v1/images/${id}`, `/api/image/v1/download/get-signed-url/${id}`]) {
      const theirs = await get(path, 'owner-b')
      const nothing = await get(path.replace(id, missing), 'owner-b')
      expect(theirs.statusCode).toBe(404)
      expect(theirs.json().code).toBe(nothing.json().code)
    }
    const batch = await api.inject(
      { method: 'POST', url: '/api/image/v1/download/get-signed-urls', payload: { image_ids: [id] } },
      'owner-b',
    )
    expect(batch.json()).toEqual({ items: [], not_found: [id] })
    expect((await api.inject({ method: 'DELETE', url: `/api/image/v1/images/${id}` }, 'owner-b')).statusCode).toBe(404)
    expect(
      (await get(`/api/image/v1/images?limit=100`, 'owner-b')).json().items.map((i: { image_id: string }) => i.image_id),
    ).not.toContain(id)
    // Still there for its owner.
    expect((await get(`/api/image/v1/download/get-signed-url/${id}`, 'owner-a')).statusCode).toBe(200)
  })

  it('lets an admin read every owner, with owner_id, but never sign or delete', async () => {
    const id = await uploadAs('owner-c')
    const admin = { owner: 'root', admin: true }
    const status = await get(`/api/image/v1/images/${id}`, admin)
    expect(status.statusCode).toBe(200)
    expect(status.json()).toMatchObject({ image_id: id, owner_id: 'owner-c' })
    const listed = await get('/api/image/v1/images?owner_id=owner-c', admin)
    expect(listed.json().items.map((i: { image_id: string }) => i.image_id)).toContain(id)
    expect((await get(`/api/image/v1/download/get-signed-url/${id}`, admin)).statusCode).toBe(404)
    expect((await api.inject({ method: 'DELETE', url: `/api/image/v1/images/${id}` }, admin)).statusCode).toBe(404)
    // A non-admin may not look at another owner's list; nor is owner_id in a plain owner's view.
    expect((await get('/api/image/v1/images?owner_id=owner-c', 'owner-b')).json()).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' })
    expect((await get(`/api/image/v1/images/${id}`, 'owner-c')).json()).not.toHaveProperty('owner_id')
  })

  it('files images by labels and finds them by label filters, newest first, page by page', async () => {
    const [first, second, other] = [
      await uploadAs('owner-l', { batch_id: 'b42', record_id: 'r1' }),
      await uploadAs('owner-l', { batch_id: 'b42', record_id: 'r2' }),
      await uploadAs('owner-l', { feature: 'templates' }),
    ]
    const page1 = await get('/api/image/v1/images?label.batch_id=b42&limit=1', 'owner-l')
    expect(page1.statusCode).toBe(200)
    expect(page1.json().items.map((i: { image_id: string }) => i.image_id)).toEqual([second])
    expect(page1.json().items[0].labels).toEqual({ batch_id: 'b42', record_id: 'r2' })
    const page2 = await get(`/api/image/v1/images?label.batch_id=b42&limit=1&cursor=${page1.json().next_cursor}`, 'owner-l')
    expect(page2.json()).toMatchObject({ items: [expect.objectContaining({ image_id: first })], next_cursor: null })
    expect(
      (await get('/api/image/v1/images?label.feature=templates', 'owner-l')).json().items.map((i: { image_id: string }) => i.image_id),
    ).toEqual([other])
    expect((await get('/api/image/v1/images?status=ready&label.batch_id=b42&label.record_id=r1', 'owner-l')).json().items).toHaveLength(1)
  })

  it.each([
    ['an upper-case key', { Batch: 'x' }],
    ['a key with a slash', { 'a/b': 'x' }],
    ['an empty value', { a: '' }],
    ['eleven labels', Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']))],
    ['a number value', { a: 1 }],
  ])('answers 400 INVALID_LABELS to %s, saving nothing', async (_label, labels) => {
    const before = await api.countRecords()
    const response = await api.inject({
      method: 'POST',
      url: '/api/image/v1/upload/create-presigned-url',
      payload: { content_type: 'image/png', file_name: 'a.png', labels },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ code: 'INVALID_LABELS' })
    expect(await api.countRecords()).toBe(before)
  })

  it('answers 400 to a bad list filter, limit or cursor', async () => {
    expect((await get('/api/image/v1/images?limit=0', 'owner-a')).json()).toMatchObject({ statusCode: 400, code: 'INVALID_LIMIT' })
    expect((await get('/api/image/v1/images?limit=101', 'owner-a')).json()).toMatchObject({ code: 'INVALID_LIMIT' })
    expect((await get('/api/image/v1/images?cursor=bm9wZQ', 'owner-a')).json()).toMatchObject({ code: 'INVALID_CURSOR' })
    expect((await get('/api/image/v1/images?status=lost', 'owner-a')).statusCode).toBe(400)
    expect((await get('/api/image/v1/images?label.Bad=x', 'owner-a')).statusCode).toBe(400)
  })

  it('deletes: the object and its variants go, the CDN forgets them, it is never signed again, and a second delete is 204 too', async () => {
    const id = await uploadAs('owner-d')
    // Its variants, as the processor stores them.
    const { variants } = await api.variants.create(id as ImageId, readCorpusFile('valid-png-rgb-1024x768.png'))
    const variantKeys = variants.map((v) => `variants/${id}/${v.name}.${v.format}`)
    for (const key of variantKeys) expect(await api.storage.getObjectMetadata(key)).not.toBeNull()
    const deleted = await api.inject({ method: 'DELETE', url: `/api/image/v1/images/${id}` }, { app: withCdn, owner: 'owner-d' })
    expect(deleted.statusCode).toBe(204)
    expect(cloudFront.invalidatedPaths()).toEqual(expect.arrayContaining([`/uploads/${id}`, `/variants/${id}/*`]))
    expect(await api.storage.getObjectMetadata(`uploads/${id}`)).toBeNull()
    for (const key of variantKeys) expect(await api.storage.getObjectMetadata(key)).toBeNull()
    expect((await get(`/api/image/v1/images/${id}`, 'owner-d')).json()).toMatchObject({ status: 'deleted' })
    expect((await get(`/api/image/v1/download/get-signed-url/${id}`, 'owner-d')).statusCode).toBe(404)
    expect((await get('/api/image/v1/images', 'owner-d')).json().items).toEqual([])
    expect((await get('/api/image/v1/images?status=deleted', 'owner-d')).json().items).toHaveLength(1)
    expect((await api.inject({ method: 'DELETE', url: `/api/image/v1/images/${id}` }, 'owner-d')).statusCode).toBe(204)
  })

  it('lets a machine act for its owner with an API key, which cannot manage keys and stops working once revoked', async () => {
    const created = await api.inject(
      { method: 'POST', url: '/api/image/v1/api-keys', payload: { name: 'renderer', expires_in_days: 30 } },
      'owner-k',
    )
    expect(created.statusCode).toBe(201)
    const key = created.json<{ id: string; key: string; prefix: string; expires_at: string }>()
    expect(key.key.startsWith(key.prefix)).toBe(true)
    const byKey = { authorization: `Bearer ${key.key}` }
    const issued = await api.app.inject({
      method: 'POST',
      url: '/api/image/v1/upload/create-presigned-url',
      headers: byKey,
      payload: { content_type: 'image/png', file_name: 'k.png' },
    })
    expect(issued.statusCode).toBe(201)
    // The key acts as its owner: the owner's token sees what the key made.
    expect((await get(`/api/image/v1/images/${issued.json().image_id}`, 'owner-k')).statusCode).toBe(200)
    expect(
      (await api.app.inject({ method: 'POST', url: '/api/image/v1/api-keys', headers: byKey, payload: { name: 'x' } })).json(),
    ).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' })
    const listed = await get('/api/image/v1/api-keys', 'owner-k')
    expect(listed.json().items).toEqual([expect.objectContaining({ id: key.id, prefix: key.prefix, revoked_at: null })])
    expect(JSON.stringify(listed.json())).not.toContain(key.key)
    expect((await api.inject({ method: 'DELETE', url: `/api/image/v1/api-keys/${key.id}` }, 'owner-b')).statusCode).toBe(404)
    expect((await api.inject({ method: 'DELETE', url: `/api/image/v1/api-keys/${key.id}` }, 'owner-k')).statusCode).toBe(204)
    const after = await api.app.inject({ method: 'GET', url: '/api/image/v1/images', headers: byKey })
    expect(after.statusCode).toBe(401)
    expect(after.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
  })
})
