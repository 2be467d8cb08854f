import { Value } from '@sinclair/typebox/value'
import '../testing/formats.ts'
import { closedPort } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'
import { CreateMultipartUploadResponse, MultipartPartsResponse } from './multipart.ts'

const MiB = 1024 * 1024
const CREATE = '/api/image/v1/upload/create-multipart-upload'
const COMPLETE = '/api/image/v1/upload/complete-multipart-upload'
const parts = (id: string) => `/api/image/v1/upload/multipart/${id}/parts`
const abort = (id: string) => `/api/image/v1/upload/multipart/${id}`

type Created = {
  image_id: string
  upload_id: string
  part_size: number
  parts: { part_number: number; upload_url: string; size_bytes: number }[]
}

/** Bytes whose every part differs, so a part in the wrong place would show. */
function fileOf(size: number): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) % 251
  return bytes
}

describe('multipart uploads', () => {
  let api: TestApi
  // Three parts need more than 10 MiB: the resume and complete cases raise MAX_UPLOAD_BYTES.
  let large: ApiApp

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-multipart')
    large = await api.variant({ MAX_UPLOAD_BYTES: String(16 * MiB) })
  })
  afterAll(async () => {
    await api?.close()
  })

  const create = (payload: object, app: ApiApp = large, owner = 'owner-a') =>
    api.inject({ method: 'POST', url: CREATE, payload }, { app, owner })
  const usage = async (owner = 'owner-a') => (await api.inject({ method: 'GET', url: '/api/image/v1/usage' }, owner)).json()
  const putPart = async (part: Created['parts'][number], file: Uint8Array, partSize: number) => {
    const start = (part.part_number - 1) * partSize
    const response = await fetch(part.upload_url, { method: 'PUT', body: file.subarray(start, start + part.size_bytes) })
    expect(response.status).toBe(200)
    return response.headers.get('etag') ?? ''
  }

  it('creates a pending upload, reserves its size, and signs every part with its exact length', async () => {
    const size = 10 * MiB + 1000
    const response = await create({ content_type: 'image/png', file_name: 'big.png', size_bytes: size })
    expect(response.statusCode).toBe(201)
    const body = response.json() as Created & { upload_headers: object; expires_at: string }
    expect(Value.Check(CreateMultipartUploadResponse, body)).toBe(true)
    expect(body.part_size).toBe(5 * MiB)
    expect(body.upload_headers).toEqual({})
    expect(body.parts.map((p) => [p.part_number, p.size_bytes])).toEqual([
      [1, 5 * MiB],
      [2, 5 * MiB],
      [3, 1000],
    ])
    for (const part of body.parts) {
      const url = new URL(part.upload_url)
      expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;host')
      expect(url.searchParams.get('partNumber')).toBe(String(part.part_number))
      expect(url.searchParams.get('uploadId')).toBe(body.upload_id)
    }
    const status = await api.inject({ method: 'GET', url: `/api/image/v1/images/${body.image_id}` })
    expect(status.json()).toMatchObject({ status: 'pending', size_bytes: null })
    expect((await usage()).reserved_bytes).toBeGreaterThanOrEqual(size)
    // The upload id is kept in the database, since storage cannot be asked to list uploads.
    const [row] = await api.database.sql<{ upload_id: string }[]>`SELECT upload_id FROM multipart_uploads WHERE image_id = ${body.image_id}`
    expect(row?.upload_id).toBe(body.upload_id)
  })

  it('refuses a part of more or fewer bytes than signed (403), and stores nothing of it', async () => {
    const created = (await create({ content_type: 'image/png', file_name: 'p.png', size_bytes: 2000 }, api.app)).json() as Created
    const [part] = created.parts
    if (part === undefined) throw new Error('no part')
    expect(part.size_bytes).toBe(2000)
    expect((await fetch(part.upload_url, { method: 'PUT', body: new Uint8Array(1999) })).status).toBe(403)
    expect((await fetch(part.upload_url, { method: 'PUT', body: new Uint8Array(2001) })).status).toBe(403)
    const listed = (await api.inject({ method: 'GET', url: parts(created.image_id) })).json()
    expect(listed.parts).toEqual([])
    expect(listed.missing.map((p: { part_number: number }) => p.part_number)).toEqual([1])
  })

  it('refuses a declared size over MAX_UPLOAD_BYTES with 400 FILE_TOO_LARGE before any storage call', async () => {
    // Storage is unreachable: a storage call would answer 503, not 400.
    const noStorage = await api.variant({ S3_ENDPOINT: `http://127.0.0.1:${await closedPort()}` })
    const records = await api.countRecords()
    const over = await create({ content_type: 'image/png', file_name: 'a.png', size_bytes: 10 * MiB + 1 }, noStorage)
    expect(over.statusCode).toBe(400)
    expect(over.json().code).toBe('FILE_TOO_LARGE')
    for (const size_bytes of [undefined, 0, 1.5, '100']) {
      const invalid = await create(
        { content_type: 'image/png', file_name: 'a.png', ...(size_bytes === undefined ? {} : { size_bytes }) },
        noStorage,
      )
      expect(invalid.statusCode).toBe(400)
    }
    expect(await api.countRecords()).toBe(records)

    // Within the limit, storage is asked: it is down, so 503, and the record it left is failed
    // `aborted` with its reservation given back.
    const before = await usage('owner-down')
    const down = await create({ content_type: 'image/png', file_name: 'a.png', size_bytes: 1000 }, noStorage, 'owner-down')
    expect(down.statusCode).toBe(503)
    const [left] = await api.database.sql<{ status: string; failure_reason: string }[]>`
      SELECT status, failure_reason FROM image_records WHERE owner_id = 'owner-down'`
    expect(left).toEqual({ status: 'failed', failure_reason: 'aborted' })
    expect(await usage('owner-down')).toEqual(before)
  })

  it('resumes: after 2 of 3 parts, lists them with a fresh URL for the third; completes after checking the part list', async () => {
    const size = 10 * MiB + 4096
    const file = fileOf(size)
    const created = (await create({ content_type: 'image/png', file_name: 'resume.png', size_bytes: size })).json() as Created
    const [one, two] = created.parts
    if (one === undefined || two === undefined) throw new Error('expected three parts')
    const etag1 = await putPart(one, file, created.part_size)
    const etag2 = await putPart(two, file, created.part_size)

    // The page reloads: what does storage hold, and where does the rest go?
    const resumed = await api.inject({ method: 'GET', url: parts(created.image_id) })
    expect(resumed.statusCode).toBe(200)
    const progress = resumed.json()
    expect(Value.Check(MultipartPartsResponse, progress)).toBe(true)
    expect(progress.parts).toEqual([
      { part_number: 1, etag: etag1, size_bytes: 5 * MiB },
      { part_number: 2, etag: etag2, size_bytes: 5 * MiB },
    ])
    expect(progress.missing.map((p: { part_number: number; size_bytes: number }) => [p.part_number, p.size_bytes])).toEqual([[3, 4096]])
    const etag3 = await putPart(progress.missing[0], file, created.part_size)

    const complete = (list: { part_number: number; etag: string }[]) =>
      api.inject({ method: 'POST', url: COMPLETE, payload: { image_id: created.image_id, parts: list } })
    const all = [
      { part_number: 1, etag: etag1 },
      { part_number: 2, etag: etag2 },
      { part_number: 3, etag: etag3 },
    ]
    const invalid = [
      ['a missing part', [all[0], all[2]]],
      ['parts out of order', [all[1], all[0], all[2]]],
      ['a wrong ETag', [all[0], all[1], { part_number: 3, etag: '"00000000000000000000000000000000"' }]],
      ['a duplicated part number', [all[0], all[1], all[1], all[2]]],
      ['a part number past the last', [...all, { part_number: 4, etag: etag3 }]],
    ] as const
    for (const [what, list] of invalid) {
      const refused = await complete(list as unknown as typeof all)
      expect({ what, status: refused.statusCode, code: refused.json().code }).toEqual({ what, status: 400, code: 'INVALID_PARTS' })
    }
    // Nothing completed: no object, and the parts are all still in storage.
    expect(await api.storage.getObjectMetadata(`uploads/${created.image_id}`)).toBeNull()
    expect((await api.inject({ method: 'GET', url: parts(created.image_id) })).json().parts).toHaveLength(3)

    const done = await complete(all)
    expect(done.statusCode).toBe(200)
    expect(done.json()).toEqual({ image_id: created.image_id, status: 'pending' })
    const key = `uploads/${created.image_id}`
    const stored = await api.storage.readObject(key, { maxBytes: size + 1, etag: (await api.storage.getObjectMetadata(key))?.etag ?? '' })
    expect(Buffer.from(stored).equals(Buffer.from(file))).toBe(true)
    // A retried complete answers the same; the upload is finished for resume and abort.
    expect((await complete(all)).json()).toEqual({ image_id: created.image_id, status: 'pending' })
    const after = await api.inject({ method: 'GET', url: parts(created.image_id) })
    expect([after.statusCode, after.json().code]).toEqual([409, 'UPLOAD_FINISHED'])
    const lateAbort = await api.inject({ method: 'DELETE', url: abort(created.image_id) })
    expect([lateAbort.statusCode, lateAbort.json().code]).toEqual([409, 'UPLOAD_FINISHED'])
  })

  it('aborts: storage drops the parts, the record fails `aborted`, its reservation is released', async () => {
    const before = await usage('owner-abort')
    const created = (
      await create({ content_type: 'image/png', file_name: 'a.png', size_bytes: 6 * MiB }, large, 'owner-abort')
    ).json() as Created
    const [one] = created.parts
    if (one === undefined) throw new Error('no part')
    await putPart(one, fileOf(6 * MiB), created.part_size)
    expect((await usage('owner-abort')).reserved_bytes).toBe(before.reserved_bytes + 6 * MiB)

    const aborted = await api.inject({ method: 'DELETE', url: abort(created.image_id) }, 'owner-abort')
    expect(aborted.statusCode).toBe(204)
    const status = (await api.inject({ method: 'GET', url: `/api/image/v1/images/${created.image_id}` }, 'owner-abort')).json()
    expect(status).toMatchObject({ status: 'failed', failure_reason: 'aborted' })
    expect(await usage('owner-abort')).toEqual(before)
    // The upload is gone at storage: a part URL still within its lifetime is refused.
    expect((await fetch(created.parts[1]?.upload_url ?? '', { method: 'PUT', body: new Uint8Array(MiB) })).status).toBe(404)
    const again = await api.inject({ method: 'DELETE', url: abort(created.image_id) }, 'owner-abort')
    expect([again.statusCode, again.json().code]).toEqual([409, 'UPLOAD_FINISHED'])
  })

  it("answers another owner's upload 404 on every route, and a single-PUT upload 409 NOT_MULTIPART", async () => {
    const created = (await create({ content_type: 'image/png', file_name: 'a.png', size_bytes: 100 }, api.app)).json() as Created
    const stranger = { owner: 'owner-b' }
    for (const response of [
      await api.inject({ method: 'GET', url: parts(created.image_id) }, stranger),
      await api.inject({ method: 'POST', url: COMPLETE, payload: { image_id: created.image_id, parts: [] } }, stranger),
      await api.inject({ method: 'DELETE', url: abort(created.image_id) }, stranger),
      // An admin reads every owner's images, and never uploads for them.
      await api.inject({ method: 'DELETE', url: abort(created.image_id) }, { owner: 'admin', admin: true }),
    ]) {
      expect([response.statusCode, response.json().code]).toEqual([404, 'IMAGE_NOT_FOUND'])
    }
    const single = await api.inject({
      method: 'POST',
      url: '/api/image/v1/upload/create-presigned-url',
      payload: { content_type: 'image/png', file_name: 'a.png' },
    })
    const notMultipart = await api.inject({ method: 'GET', url: parts(single.json().image_id) })
    expect([notMultipart.statusCode, notMultipart.json().code]).toEqual([409, 'NOT_MULTIPART'])
    const badId = await api.inject({ method: 'GET', url: parts('not-an-id') })
    expect([badId.statusCode, badId.json().code]).toEqual([400, 'INVALID_IMAGE_ID'])
  })
})
