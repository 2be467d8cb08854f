import { type CorpusCase, readCorpusFile, readCorpusManifest } from '@image-service/devstack/corpus'
import { isAllowedContentType, newImageId } from '@image-service/foundation'
import { describe, expect, test } from 'vitest'
import { download, type ErrorBody, type IssuedUpload, putUpload, type SignedDownload } from './support/api-client.ts'
import { useSystem } from './support/use-system.ts'

// Requirement: every manifest case reaches its expected status through the real path
// (api -> presigned PUT -> S3 event -> processor -> database), observed over HTTP only.
const cases = readCorpusManifest()
/** A readable test name: the same file appears under several declared types. */
const caseName = (c: CorpusCase) => `${c.file} as ${c.declared_content_type} -> ${c.expected}`
const readyIds: string[] = []
const failedIds: string[] = []

const running = useSystem()

describe('every corpus case, end to end', () => {
  test.concurrent.for(cases.map((c) => [caseName(c), c] as const))('%s', async ([, c], { expect }) => {
    const { api, stack } = running()
    const issued = await api.issueUpload(c.declared_content_type, c.file)

    if (!isAllowedContentType(c.declared_content_type)) {
      // Refused at issuance: nothing is stored, and the case counts as failed.
      expect(issued.status).toBe(400)
      expect((issued.body as ErrorBody).code).toBe('INVALID_CONTENT_TYPE')
      expect(c.expected).toBe('failed')
      return
    }
    expect(issued.status, JSON.stringify(issued.body)).toBe(201)
    const upload = issued.body as IssuedUpload
    const bytes = readCorpusFile(c.file)
    await putUpload(upload, bytes)

    const final = await api.waitForFinal(upload.image_id)
    expect({ status: final.status, failure_reason: final.failure_reason }, describeCase(c)).toMatchObject({ status: c.expected })

    const signed = await api.signedUrl(upload.image_id)
    if (c.expected === 'ready') {
      readyIds.push(upload.image_id)
      expect(final.size_bytes).toBe(bytes.byteLength)
      expect(final.failure_reason).toBeNull()
      // Also proves the HeadObject probe below is not vacuous (right bucket, right key).
      expect(await running().objectExists(upload.image_id)).toBe(true)
      expect(signed.status, JSON.stringify(signed.body)).toBe(200)
      const { download_url } = signed.body as SignedDownload
      // CloudFront mode: the URL points at the CDN (emulator), which checks the signature.
      expect(download_url.startsWith(stack.cdn.baseUrl)).toBe(true)
      const served = await download(download_url)
      expect(served.status).toBe(200)
      expect(served.contentType).toBe(c.declared_content_type)
      expect(served.bytes.byteLength).toBe(bytes.byteLength)
      expect(Buffer.from(served.bytes).equals(Buffer.from(bytes)), 'downloaded bytes equal the uploaded ones').toBe(true)
      // Every configured variant, stored under its own key and nothing else.
      const variants = final.variants.map((v) => `variants/${upload.image_id}/${v.name}.${v.format}`).sort()
      expect(final.variants.map((v) => `${v.name}.${v.format}`).sort()).toEqual(['large.webp', 'medium.webp', 'thumbnail.webp'])
      expect(await running().listKeys(`variants/${upload.image_id}/`)).toEqual(variants)
      expect(final.placeholder).toEqual(expect.any(String))
    } else {
      failedIds.push(upload.image_id)
      expect(final.failure_reason, 'a failed upload says why').toEqual(expect.any(String))
      // The record turns failed first and the object is deleted right after (a crash in between
      // is repaired by redelivery), so the deletion is a state to wait for.
      await expect
        .poll(() => running().objectExists(upload.image_id), { message: 'a refused object is deleted from storage', timeout: 10_000 })
        .toBe(false)
      expect(signed.status).toBe(404)
      expect(final.variants).toEqual([])
      expect(await running().listKeys(`variants/${upload.image_id}/`), 'a refused upload leaves no variant').toEqual([])
    }
  })
})

describe('batch signed URLs over the processed corpus', () => {
  test('every ready image at once, then mixed with an unknown and a failed id', async () => {
    const { api } = running()
    const expectedReady = cases.filter((c) => c.expected === 'ready').length
    // Filled by the corpus tests above; fewer means one of them failed.
    expect(readyIds).toHaveLength(expectedReady)
    const ids = readyIds.slice(0, 50)

    const all = await api.signedUrls(ids)
    expect(all.status, JSON.stringify(all.body)).toBe(200)
    const body = all.body as { items: SignedDownload[]; not_found: string[] }
    expect(body.items.map((item) => item.image_id)).toEqual(ids)
    expect(body.not_found).toEqual([])
    const first = body.items[0]
    if (!first) throw new Error('no items')
    expect((await download(first.download_url)).status).toBe(200)

    const unknown = newImageId()
    const failed = failedIds[0]
    if (!failed) throw new Error('no failed upload recorded')
    const mixed = await api.signedUrls([...ids.slice(0, 48), unknown, failed])
    expect(mixed.status, JSON.stringify(mixed.body)).toBe(200)
    const mixedBody = mixed.body as { items: SignedDownload[]; not_found: string[] }
    expect(mixedBody.items.map((item) => item.image_id)).toEqual(ids.slice(0, 48))
    expect(mixedBody.not_found).toEqual([unknown, failed])
  })
})

function describeCase(c: CorpusCase): string {
  return `${c.file} declared ${c.declared_content_type}: ${c.reason} [${c.tags.join(', ')}]`
}
