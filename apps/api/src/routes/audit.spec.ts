import { readCorpusFile, TEST_IMAGE_LIMITS } from '@image-service/devstack/corpus'
import { AUDIT_ACTIONS, createPostgresImageRepository, createValidateImage, type ImageId, systemContext } from '@image-service/foundation'
import { Value } from '@sinclair/typebox/value'
import '../testing/formats.ts'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startTestApi, type TestApi } from '../testing/test-api.ts'
import { AuditListResponse } from './audit.ts'

const VALID_PNG = readCorpusFile('valid-png-1x1-palette-pngsuite-s01n3p01.png')
const TRUNCATED_PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])

type AuditItem = AuditListResponse['items'][number]

describe('the audit trail', () => {
  let api: TestApi

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-audit')
  })
  afterAll(async () => {
    await api?.close()
  })

  /** Sends with a known x-request-id, so the row can be traced back to this request. */
  const send = async (owner: string, requestId: string, options: { method: 'GET' | 'POST' | 'DELETE'; url: string; payload?: object }) => {
    const response = await api.inject({ ...options, headers: { 'x-request-id': requestId } }, owner)
    expect(response.headers['x-request-id']).toBe(requestId)
    return response
  }

  const upload = async (owner: string, requestId: string, bytes: Uint8Array): Promise<ImageId> => {
    const created = await send(owner, requestId, {
      method: 'POST',
      url: '/api/image/v1/upload/create-presigned-url',
      payload: { content_type: 'image/png', file_name: 'a.png', size_bytes: bytes.length },
    })
    expect(created.statusCode).toBe(201)
    const body = created.json<{ image_id: ImageId; upload_url: string; upload_headers: Record<string, string> }>()
    expect((await fetch(body.upload_url, { method: 'PUT', headers: body.upload_headers, body: bytes })).status).toBe(200)
    return body.image_id
  }

  const trail = async (owner: string, query = ''): Promise<AuditItem[]> => {
    const response = await api.inject({ method: 'GET', url: `/api/image/v1/audit${query}` }, owner)
    expect(response.statusCode).toBe(200)
    expect(Value.Check(AuditListResponse, response.json())).toBe(true)
    return response.json<AuditListResponse>().items
  }

  it("records every action in DESIGN's list once per occurrence, with the request id of the HTTP request that caused it", async () => {
    const owner = 'audit-alice'
    // The processor's command on the api's database and bucket, as a queue message would run it.
    const validate = createValidateImage({
      images: createPostgresImageRepository(api.database.db),
      storage: api.storage,
      variants: api.variants,
      limits: TEST_IMAGE_LIMITS,
    })

    const good = await upload(owner, 'req-issue-good', VALID_PNG)
    const bad = await upload(owner, 'req-issue-bad', TRUNCATED_PNG)
    expect(await validate(systemContext('processor', 'msg-good'), good)).toMatchObject({ outcome: 'ready' })
    expect(await validate(systemContext('processor', 'msg-bad'), bad)).toMatchObject({ outcome: 'failed' })
    // A duplicate delivery changes nothing and writes nothing.
    expect(await validate(systemContext('processor', 'msg-good-again'), good)).toMatchObject({ outcome: 'skipped' })

    expect((await send(owner, 'req-sign-one', { method: 'GET', url: `/api/image/v1/download/get-signed-url/${good}` })).statusCode).toBe(
      200,
    )
    const batch = await send(owner, 'req-sign-batch', {
      method: 'POST',
      url: '/api/image/v1/download/get-signed-urls',
      payload: { image_ids: [good, good, bad] },
    })
    expect(batch.statusCode).toBe(200)

    const key = await send(owner, 'req-key-create', { method: 'POST', url: '/api/image/v1/api-keys', payload: { name: 'audit' } })
    expect(key.statusCode).toBe(201)
    const keyId = key.json<{ id: string }>().id
    expect((await send(owner, 'req-key-revoke', { method: 'DELETE', url: `/api/image/v1/api-keys/${keyId}` })).statusCode).toBe(204)

    expect((await send(owner, 'req-delete', { method: 'DELETE', url: `/api/image/v1/images/${good}` })).statusCode).toBe(204)
    // Deleting again is 204 but deletes nothing: no second row.
    expect((await send(owner, 'req-delete-again', { method: 'DELETE', url: `/api/image/v1/images/${good}` })).statusCode).toBe(204)

    // download.signed rows are written in batches, a moment after the response.
    await expect.poll(async () => (await trail(owner, '?action=download.signed')).length).toBe(2)
    const items = await trail(owner, '?limit=100')
    const seen = items.map((i) => [i.action, i.request_id, i.image_id]).reverse()
    expect(seen).toEqual(
      expect.arrayContaining([
        ['upload.issued', 'req-issue-good', good],
        ['upload.issued', 'req-issue-bad', bad],
        ['upload.validated', 'req-issue-good', good],
        ['upload.rejected', 'req-issue-bad', bad],
        ['download.signed', 'req-sign-one', good],
        ['download.signed', 'req-sign-batch', null],
        ['api_key.created', 'req-key-create', null],
        ['api_key.revoked', 'req-key-revoke', null],
        ['image.deleted', 'req-delete', good],
      ]),
    )
    expect(seen).toHaveLength(9)
    // job.started and job.cancelled need the jobs queue: routes/processing.spec.ts checks them.
    expect(new Set(items.map((i) => i.action))).toEqual(new Set(AUDIT_ACTIONS.filter((a) => !a.startsWith('job.'))))

    const byAction = (action: string) => items.filter((i) => i.action === action)
    expect(byAction('download.signed').find((i) => i.request_id === 'req-sign-batch')?.detail).toEqual({
      image_ids: [good],
      variant: 'original',
    })
    expect(byAction('upload.validated')[0]).toMatchObject({
      actor: { type: 'system', name: 'processor' },
      detail: { message_id: 'msg-good' },
    })
    expect(byAction('upload.rejected')[0]?.detail).toMatchObject({ failure_reason: expect.any(String), message_id: 'msg-bad' })
    expect(byAction('image.deleted')[0]).toMatchObject({ actor: { type: 'user', id: owner, via: 'jwt' }, owner_id: owner })
    expect(byAction('api_key.created')[0]?.detail).toMatchObject({ api_key_id: keyId })
    // Newest first.
    expect(items.map((i) => Number(i.id))).toEqual([...items.map((i) => Number(i.id))].sort((a, b) => b - a))

    // The client IP is stored with each row.
    const [ip] = await api.database.sql<{ client_ip: string | null }[]>`
      SELECT client_ip FROM audit_events WHERE request_id = 'req-issue-good' AND action = 'upload.issued'`
    expect(ip?.client_ip).toBe('127.0.0.1')
  })

  it('appends image.pending, image.ready, image.failed and image.deleted events in the order of the changes', async () => {
    const owner = 'audit-events'
    const repository = createPostgresImageRepository(api.database.db)
    const a = await upload(owner, 'req-ev-a', VALID_PNG)
    const b = await upload(owner, 'req-ev-b', VALID_PNG)
    await repository.transitionFromPending(a, { status: 'ready', sizeBytes: VALID_PNG.length, etag: '"a"' })
    await repository.transitionFromPending(b, { status: 'failed', failureReason: 'corrupt' })
    await send(owner, 'req-ev-del', { method: 'DELETE', url: `/api/image/v1/images/${a}` })
    const events = await api.database.sql<{ id: string; type: string; subject_id: string; data: Record<string, unknown> }[]>`
      SELECT id, type, subject_id, data FROM events WHERE owner_id = ${owner} ORDER BY id`
    expect(events.map((e) => [e.type, e.subject_id])).toEqual([
      ['image.pending', a],
      ['image.pending', b],
      ['image.ready', a],
      ['image.failed', b],
      ['image.deleted', a],
    ])
    expect(events[2]?.data).toEqual({ size_bytes: VALID_PNG.length })
    expect(events[4]?.data).toEqual({ previous_status: 'ready' })
  })

  it("filters by image_id, pages by cursor, and shows another owner's trail only to images:admin", async () => {
    const owner = 'audit-bob'
    const ids = [
      await upload(owner, 'req-bob-1', VALID_PNG),
      await upload(owner, 'req-bob-2', VALID_PNG),
      await upload(owner, 'req-bob-3', VALID_PNG),
    ]
    expect((await trail(owner, `?image_id=${ids[1]}`)).map((i) => i.request_id)).toEqual(['req-bob-2'])

    const first = await api.inject({ method: 'GET', url: '/api/image/v1/audit?limit=2' }, owner)
    const page1 = first.json<AuditListResponse>()
    expect(page1.items.map((i) => i.request_id)).toEqual(['req-bob-3', 'req-bob-2'])
    expect(page1.next_cursor).not.toBeNull()
    const page2 = (
      await api.inject({ method: 'GET', url: `/api/image/v1/audit?limit=2&cursor=${page1.next_cursor}` }, owner)
    ).json<AuditListResponse>()
    expect(page2.items.map((i) => i.request_id)).toEqual(['req-bob-1'])
    expect(page2.next_cursor).toBeNull()

    expect(await trail('audit-stranger')).toEqual([])
    const stranger = await api.inject({ method: 'GET', url: `/api/image/v1/audit?owner_id=${owner}` }, 'audit-stranger')
    expect(stranger.statusCode).toBe(403)
    const admin = await api.inject({ method: 'GET', url: `/api/image/v1/audit?owner_id=${owner}` }, { owner: 'root', admin: true })
    expect(admin.json<AuditListResponse>().items).toHaveLength(3)

    expect((await api.inject({ method: 'GET', url: '/api/image/v1/audit?action=image.eaten' }, owner)).json()).toMatchObject({
      code: 'INVALID_ACTION',
    })
    expect((await api.inject({ method: 'GET', url: '/api/image/v1/audit?cursor=abc' }, owner)).json()).toMatchObject({
      code: 'INVALID_CURSOR',
    })
  })
})
