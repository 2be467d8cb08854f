import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  createGetImageDownloadSignedUrl,
  createGetImageDownloadSignedUrls,
  type ImageId,
  type ImageRecord,
  type ImageRepository,
  type ImageStatus,
  type ImageVariantFormat,
  newImageId,
  objectKeyFor,
} from '@image-service/foundation'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { registerAuthentication } from '../http/authentication.ts'
import { registerErrorHandling } from '../http/errors.ts'
import { downloadRoutes } from './download.ts'

/** Read-only repository fake: enough for the download queries. */
class Images implements Pick<ImageRepository, 'findById' | 'findOwnedByIds'> {
  readonly records = new Map<ImageId, ImageRecord>()
  findByIdsCalls = 0
  /** A record of `ownerId`, with `thumbnail` in the given formats. */
  add(id: ImageId, status: ImageStatus, ownerId = 'owner-a', thumbnail: ImageVariantFormat[] = []): void {
    const at = new Date(0)
    this.records.set(id, {
      id,
      ownerId,
      status,
      contentType: 'image/png',
      fileName: 'a.png',
      sizeBytes: null,
      objectKey: objectKeyFor(id),
      failureReason: null,
      etag: null,
      labels: {},
      sourceImageId: null,
      jobId: null,
      reservedBytes: 0,
      width: null,
      height: null,
      variants: thumbnail.map((format) => ({ name: 'thumbnail', format, width: 300, height: 200, sizeBytes: 100 })),
      placeholder: null,
      metadataRemoved: [],
      createdAt: at,
      updatedAt: at,
    })
  }
  async findById(id: ImageId) {
    return this.records.get(id) ?? null
  }
  async findOwnedByIds(ownerId: string, ids: readonly ImageId[]) {
    this.findByIdsCalls += 1
    return ids.flatMap((id) => {
      const record = this.records.get(id)
      return record?.ownerId === ownerId ? [record] : []
    })
  }
}

const EXPIRES = new Date('2030-01-01T00:15:00.000Z')
const cdn = { signDownloadUrl: async (key: string) => ({ url: `https://cdn.test/${key}?Signature=x`, expiresAt: EXPIRES }) }
const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()))
})

async function setup() {
  const images = new Images()
  const repo = images as unknown as ImageRepository
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } }).withTypeProvider<TypeBoxTypeProvider>()
  apps.push(app)
  registerErrorHandling(app)
  // The bearer credential of these specs is the owner's name itself.
  registerAuthentication(app, async (owner) => ({ type: 'user', ownerId: owner, admin: false, via: 'jwt' }))
  await app.register(downloadRoutes, {
    container: {
      getImageDownloadSignedUrl: createGetImageDownloadSignedUrl({ images: repo, cdn }),
      getImageDownloadSignedUrls: createGetImageDownloadSignedUrls({ images: repo, cdn }),
    },
  })
  return { app, images }
}

const as = (owner: string) => ({ authorization: `Bearer ${owner}` })
const one = (id: string, owner = 'owner-a') => ({
  method: 'GET' as const,
  url: `/api/image/v1/download/get-signed-url/${id}`,
  headers: as(owner),
})
const many = (payload: unknown, owner = 'owner-a') => ({
  method: 'POST' as const,
  url: '/api/image/v1/download/get-signed-urls',
  payload: payload as object,
  headers: as(owner),
})

describe('GET /api/image/v1/download/get-signed-url/:image_id', () => {
  it('answers 200 with snake_case fields and an RFC 3339 UTC expiry for a ready image', async () => {
    const { app, images } = await setup()
    const id = newImageId()
    images.add(id, 'ready')
    const response = await app.inject(one(id))
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({
      image_id: id,
      variant: 'original',
      format: 'png',
      download_url: `https://cdn.test/uploads/${id}?Signature=x`,
      expires_at: '2030-01-01T00:15:00.000Z',
    })
    expect(response.headers.vary).toBeUndefined()
  })

  it('answers a variant negotiated from Accept, with Vary: Accept', async () => {
    const { app, images } = await setup()
    const id = newImageId()
    images.add(id, 'ready', 'owner-a', ['webp', 'avif'])
    const response = await app.inject({
      ...one(id),
      url: `${one(id).url}?variant=thumbnail`,
      headers: { ...as('owner-a'), accept: 'image/webp' },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({
      image_id: id,
      variant: 'thumbnail',
      format: 'webp',
      download_url: `https://cdn.test/variants/${id}/thumbnail.webp?Signature=x`,
      expires_at: '2030-01-01T00:15:00.000Z',
    })
    expect(response.headers.vary).toBe('Accept')

    const chosen = await app.inject({
      ...one(id),
      url: `${one(id).url}?variant=thumbnail&format=avif`,
      headers: { ...as('owner-a'), accept: 'image/webp' },
    })
    expect(chosen.json()).toMatchObject({ format: 'avif', download_url: `https://cdn.test/variants/${id}/thumbnail.avif?Signature=x` })
    expect(chosen.headers.vary).toBeUndefined()
  })

  it.each([
    ['a variant it lacks', '?variant=large'],
    ['a format not generated', '?variant=thumbnail&format=jpeg'],
    ['the original in another format', '?format=webp'],
  ])('answers 404 VARIANT_NOT_FOUND to a ready image of yours for %s', async (_name, query) => {
    const { app, images } = await setup()
    const id = newImageId()
    images.add(id, 'ready', 'owner-a', ['webp'])
    const response = await app.inject({ ...one(id), url: `${one(id).url}${query}` })
    expect(response.statusCode).toBe(404)
    expect(response.json()).toMatchObject({ statusCode: 404, error: 'Not Found', code: 'VARIANT_NOT_FOUND' })
  })

  it.each([
    ['an upper-case variant', '?variant=Thumbnail', 'INVALID_VARIANT'],
    ['a path in the variant', '?variant=..%2Fuploads', 'INVALID_VARIANT'],
    ['an empty variant', '?variant=', 'INVALID_VARIANT'],
    ['an unknown format', '?variant=thumbnail&format=bmp', 'INVALID_FORMAT'],
    ['an unknown parameter', '?size=300', 'FST_ERR_VALIDATION'],
  ])('answers 400 for %s', async (_name, query, code) => {
    const { app, images } = await setup()
    const id = newImageId()
    images.add(id, 'ready', 'owner-a', ['webp'])
    const response = await app.inject({ ...one(id), url: `${one(id).url}${query}` })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', code })
  })

  it.each(['pending', 'failed', undefined] as const)('answers 404 IMAGE_NOT_FOUND for a %s image', async (status) => {
    const { app, images } = await setup()
    const id = newImageId()
    if (status !== undefined) images.add(id, status)
    const response = await app.inject(one(id))
    expect(response.statusCode).toBe(404)
    expect(response.json()).toMatchObject({ statusCode: 404, error: 'Not Found', code: 'IMAGE_NOT_FOUND' })
  })

  it.each(['not-a-ulid', '81ARZ3NDEKTSV4RRFFQ69G5FAV', '01arz3ndektsv4rrffq69g5fav'])('answers 400 INVALID_IMAGE_ID for %s', async (id) => {
    const { app } = await setup()
    const response = await app.inject(one(id))
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, code: 'INVALID_IMAGE_ID' })
  })
})

describe('POST /api/image/v1/download/get-signed-urls', () => {
  it('answers items and not_found in first-appearance order, duplicates once', async () => {
    const { app, images } = await setup()
    const [a, b, c] = [newImageId(), newImageId(), newImageId()]
    images.add(a, 'ready')
    images.add(b, 'pending')
    const response = await app.inject(many({ image_ids: [c, a, b, a, c] }))
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({
      items: [
        {
          image_id: a,
          variant: 'original',
          format: 'png',
          download_url: `https://cdn.test/uploads/${a}?Signature=x`,
          expires_at: '2030-01-01T00:15:00.000Z',
        },
      ],
      not_found: [c, b],
    })
    expect(images.findByIdsCalls).toBe(1)
  })

  it('answers one variant for every image that has it, negotiated per image, and the rest under not_found', async () => {
    const { app, images } = await setup()
    const [both, webpOnly, none] = [newImageId(), newImageId(), newImageId()]
    images.add(both, 'ready', 'owner-a', ['webp', 'avif'])
    images.add(webpOnly, 'ready', 'owner-a', ['webp'])
    images.add(none, 'ready')
    const response = await app.inject({
      ...many({ image_ids: [none, both, webpOnly], variant: 'thumbnail', format: 'auto' }),
      headers: { ...as('owner-a'), accept: 'image/avif,image/webp,*/*' },
    })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.items.map((i: { image_id: string; format: string }) => [i.image_id, i.format])).toEqual([
      [both, 'avif'],
      [webpOnly, 'webp'],
    ])
    expect(body.not_found).toEqual([none])
    expect(response.headers.vary).toBe('Accept')
  })

  it('accepts exactly 50 ids', async () => {
    const { app } = await setup()
    const response = await app.inject(many({ image_ids: Array.from({ length: 50 }, () => newImageId()) }))
    expect(response.statusCode).toBe(200)
    expect(response.json().not_found).toHaveLength(50)
  })

  it.each([
    ['an empty list', { image_ids: [] }, 'EMPTY_ID_LIST'],
    ['51 ids', { image_ids: Array.from({ length: 51 }, () => newImageId()) }, 'TOO_MANY_IDS'],
    ['a malformed id', { image_ids: ['01ARZ3NDEKTSV4RRFFQ69G5FAV', 'nope'] }, 'INVALID_IMAGE_ID'],
    ['an unknown field', { image_ids: ['01ARZ3NDEKTSV4RRFFQ69G5FAV'], extra: 1 }, 'FST_ERR_VALIDATION'],
    ['a missing list', {}, 'FST_ERR_VALIDATION'],
    ['a non-string id', { image_ids: [5] }, 'FST_ERR_VALIDATION'],
    ['a malformed variant', { image_ids: ['01ARZ3NDEKTSV4RRFFQ69G5FAV'], variant: 'thumb nail' }, 'INVALID_VARIANT'],
    ['a non-string variant', { image_ids: ['01ARZ3NDEKTSV4RRFFQ69G5FAV'], variant: 1 }, 'INVALID_VARIANT'],
    ['an unknown format', { image_ids: ['01ARZ3NDEKTSV4RRFFQ69G5FAV'], format: 'tiff' }, 'INVALID_FORMAT'],
  ])('answers 400 for %s', async (_name, payload, code) => {
    const { app, images } = await setup()
    const response = await app.inject(many(payload))
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', code })
    expect(images.findByIdsCalls).toBe(0)
  })
})

describe('downloads are for the owner only', () => {
  it("answers 404 to another owner's ready image, exactly as for a missing one", async () => {
    const { app, images } = await setup()
    const id = newImageId()
    images.add(id, 'ready', 'owner-a')
    const stranger = await app.inject(one(id, 'owner-b'))
    const missing = await app.inject(one(newImageId(), 'owner-b'))
    expect(stranger.statusCode).toBe(404)
    expect(stranger.json()).toEqual({ ...missing.json(), message: stranger.json().message })
    expect(stranger.json()).toMatchObject({ code: 'IMAGE_NOT_FOUND' })
  })

  it("lists another owner's ids under not_found in a batch", async () => {
    const { app, images } = await setup()
    const [mine, theirs] = [newImageId(), newImageId()]
    images.add(mine, 'ready', 'owner-a')
    images.add(theirs, 'ready', 'owner-b')
    const response = await app.inject(many({ image_ids: [mine, theirs] }, 'owner-a'))
    expect(response.statusCode).toBe(200)
    expect(response.json().items.map((i: { image_id: string }) => i.image_id)).toEqual([mine])
    expect(response.json().not_found).toEqual([theirs])
  })
})
