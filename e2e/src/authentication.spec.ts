import { readCorpusFile, readCorpusManifest } from '@image-service/devstack/corpus'
import { describe, expect, test } from 'vitest'
import { type ErrorBody, type IssuedUpload, putUpload, type SignedDownload } from './support/api-client.ts'
import { useSystem } from './support/use-system.ts'

// Requirement: the real api process refuses callers without a credential, keeps one owner's
// images from another, and answers an oversized header in the error shape, over real HTTP.
const running = useSystem()

describe('who may call the api', () => {
  test('no Authorization header: 401 UNAUTHENTICATED with the Bearer challenge', async () => {
    const response = await fetch(`${running().apiUrl}/api/image/v1/upload/create-presigned-url`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content_type: 'image/png', file_name: 'a.png' }),
    })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
    expect(await response.json()).toMatchObject({ statusCode: 401, code: 'UNAUTHENTICATED' })
  })

  test("owner A's image is A's alone: B's token gets 404, like a missing image, and not_found in a batch", async () => {
    const { clientFor } = running()
    const [ownerA, ownerB] = [clientFor('e2e-owner-a'), clientFor('e2e-owner-b')]
    const file = readCorpusManifest().find((c) => c.expected === 'ready' && c.declared_content_type === 'image/png')
    if (!file) throw new Error('the corpus has no ready PNG')

    const issued = await ownerA.issueUpload(file.declared_content_type, file.file)
    expect(issued.status, JSON.stringify(issued.body)).toBe(201)
    const { image_id } = issued.body as IssuedUpload
    await putUpload(issued.body as IssuedUpload, readCorpusFile(file.file))
    expect((await ownerA.waitForFinal(image_id)).status).toBe('ready')
    // The owner's own view, so B's 404s below are about ownership, not about the image.
    expect((await ownerA.signedUrl(image_id)).status).toBe(200)

    const status = await ownerB.imageStatus(image_id)
    expect(status.status, JSON.stringify(status.body)).toBe(404)
    expect((status.body as ErrorBody).code).toBe('IMAGE_NOT_FOUND')
    const signed = await ownerB.signedUrl(image_id)
    expect(signed.status, JSON.stringify(signed.body)).toBe(404)
    expect((signed.body as ErrorBody).code).toBe('IMAGE_NOT_FOUND')
    const batch = await ownerB.signedUrls([image_id])
    expect(batch.status, JSON.stringify(batch.body)).toBe(200)
    expect(batch.body as { items: SignedDownload[]; not_found: string[] }).toEqual({ items: [], not_found: [image_id] })
  })

  test('100 KB of Authorization header: 431 HEADERS_TOO_LARGE in the error shape', async () => {
    const response = await fetch(`${running().apiUrl}/api/image/v1/images`, { headers: { authorization: `Bearer ${'a'.repeat(100_000)}` } })
    expect(response.status).toBe(431)
    expect(await response.json()).toMatchObject({ statusCode: 431, code: 'HEADERS_TOO_LARGE' })
  })
})
