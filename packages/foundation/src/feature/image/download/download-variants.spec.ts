import { describe, expect, it } from 'vitest'
import { AppError } from '../../../common/errors.ts'
import type { AuditEntry, AuditLog } from '../../../shared/audit/audit.ts'
import { type RequestContext, userContext } from '../../../shared/identity/request-context.ts'
import { type ImageId, type ImageVariant, type ImageVariantFormat, newImageId } from '../../../shared/image/image.ts'
import { InMemoryImageRepository } from '../../../shared/image/testing/in-memory-image-repository.ts'
import { VariantNotFoundError } from './download-selection.ts'
import { createGetImageDownloadSignedUrl } from './get-image-download-signed-url.ts'
import { createGetImageDownloadSignedUrls } from './get-image-download-signed-urls.ts'
import { FakeImageCdn } from './testing/fakes.ts'

const ctx = userContext('owner-a', { requestId: 'spec-request' })
const CHROME = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8'

/** An audit log that keeps what it was handed. */
class RecordingAudit implements AuditLog {
  readonly entries: AuditEntry[] = []
  record(_ctx: RequestContext, entry: AuditEntry): void {
    this.entries.push(entry)
  }
  async write(ctx: RequestContext, entry: AuditEntry): Promise<void> {
    this.record(ctx, entry)
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

function setup() {
  const images = new InMemoryImageRepository()
  const cdn = new FakeImageCdn()
  const audit = new RecordingAudit()
  /** A ready image of owner-a (unless said) with `thumbnail` in the given formats, `medium` in webp. */
  const withVariants = (formats: ImageVariantFormat[], ownerId = 'owner-a'): ImageId => {
    const id = newImageId()
    images.add(id, 'ready', ownerId)
    const variant = (name: string, format: ImageVariantFormat): ImageVariant => ({ name, format, width: 300, height: 200, sizeBytes: 99 })
    const record = images.records.get(id)
    if (record !== undefined) record.variants = [...formats.map((f) => variant('thumbnail', f)), variant('medium', 'webp')]
    return id
  }
  return {
    images,
    audit,
    withVariants,
    getOne: createGetImageDownloadSignedUrl({ images, cdn, audit }),
    getMany: createGetImageDownloadSignedUrls({ images, cdn, audit }),
  }
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  )

describe('a variant download', () => {
  it('signs variants/{id}/{name}.{format}, negotiated from Accept by default', async () => {
    const { getOne, withVariants } = setup()
    const id = withVariants(['webp', 'avif', 'jpeg'])
    await expect(getOne(ctx, { imageId: id, variant: 'thumbnail', accept: CHROME })).resolves.toMatchObject({
      variant: 'thumbnail',
      format: 'avif',
      downloadUrl: `https://cdn.test/variants/${id}/thumbnail.avif?sig=1`,
      negotiated: true,
    })
    await expect(getOne(ctx, { imageId: id, variant: 'thumbnail', format: 'auto', accept: 'image/jpeg' })).resolves.toMatchObject({
      format: 'jpeg',
      negotiated: true,
    })
    await expect(getOne(ctx, { imageId: id, variant: 'thumbnail' })).resolves.toMatchObject({ format: 'webp', negotiated: true })
  })

  it('signs an asked format the variant was generated in, whatever Accept says', async () => {
    const { getOne, withVariants } = setup()
    const id = withVariants(['webp', 'jpeg'])
    await expect(getOne(ctx, { imageId: id, variant: 'thumbnail', format: 'jpeg', accept: 'image/webp' })).resolves.toMatchObject({
      format: 'jpeg',
      downloadUrl: `https://cdn.test/variants/${id}/thumbnail.jpeg?sig=1`,
      negotiated: false,
    })
  })

  it.each([
    ['a variant the image lacks', { variant: 'large' }],
    ['a format not generated', { variant: 'thumbnail', format: 'avif' }],
    ['a format no variant has', { variant: 'thumbnail', format: 'png' }],
    ['a format of another variant', { variant: 'medium', format: 'jpeg' }],
    ['the original in another format', { variant: 'original', format: 'webp' }],
  ])('answers VARIANT_NOT_FOUND for %s of a ready own image', async (_name, asked) => {
    const { getOne, withVariants, audit } = setup()
    const id = withVariants(['webp', 'jpeg'])
    const error = await failure(getOne(ctx, { imageId: id, ...asked }))
    expect(error).toBeInstanceOf(VariantNotFoundError)
    expect(error).toMatchObject({ kind: 'not_found', code: 'VARIANT_NOT_FOUND' })
    expect(audit.entries).toEqual([])
  })

  it('answers IMAGE_NOT_FOUND, never VARIANT_NOT_FOUND, for a missing, pending or foreign image', async () => {
    const { getOne, images, withVariants } = setup()
    const pending = newImageId()
    images.add(pending, 'pending')
    const theirs = withVariants(['webp'], 'owner-b')
    for (const imageId of [newImageId(), pending, theirs]) {
      for (const variant of ['thumbnail', 'large', 'original']) {
        await expect(getOne(ctx, { imageId, variant })).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' })
      }
    }
  })

  it('gives the original in its own format for auto or that format, without negotiating', async () => {
    const { getOne, withVariants } = setup()
    const id = withVariants(['webp'])
    for (const format of [undefined, 'auto', 'png']) {
      await expect(getOne(ctx, { imageId: id, variant: 'original', format, accept: CHROME })).resolves.toMatchObject({
        variant: 'original',
        format: 'png',
        downloadUrl: `https://cdn.test/uploads/${id}?sig=1`,
        negotiated: false,
      })
    }
  })

  it.each([
    ['an upper-case variant', { variant: 'Thumbnail' }, 'INVALID_VARIANT'],
    ['a variant with a slash', { variant: '../uploads/x' }, 'INVALID_VARIANT'],
    ['an empty variant', { variant: '' }, 'INVALID_VARIANT'],
    ['a 33-character variant', { variant: `a${'b'.repeat(32)}` }, 'INVALID_VARIANT'],
    ['an unknown format', { variant: 'thumbnail', format: 'bmp' }, 'INVALID_FORMAT'],
    ['an upper-case format', { format: 'WEBP' }, 'INVALID_FORMAT'],
  ])('refuses %s before reading the record', async (_name, asked, code) => {
    const { getOne, getMany, images, withVariants } = setup()
    const id = withVariants(['webp'])
    const one = await failure(getOne(ctx, { imageId: id, ...asked }))
    expect(one).toBeInstanceOf(AppError)
    expect(one).toMatchObject({ kind: 'invalid', code })
    await expect(getMany(ctx, { imageIds: [id], ...asked })).rejects.toMatchObject({ kind: 'invalid', code })
    expect(images.findByIdsCalls).toEqual([])
  })

  it('writes the variant into the download.signed row', async () => {
    const { getOne, getMany, withVariants, audit } = setup()
    const id = withVariants(['webp'])
    await getOne(ctx, { imageId: id, variant: 'thumbnail' })
    await getMany(ctx, { imageIds: [id] })
    expect(audit.entries.map((e) => e.detail)).toEqual([
      { image_ids: [id], variant: 'thumbnail' },
      { image_ids: [id], variant: 'original' },
    ])
  })
})

describe('a batch of variant downloads', () => {
  it('negotiates per image and lists the images without the variant or format under not_found', async () => {
    const { getMany, images, withVariants } = setup()
    const all = withVariants(['webp', 'avif', 'jpeg'])
    const webpOnly = withVariants(['webp'])
    const none = newImageId()
    images.add(none, 'ready') // ready, but no variants at all
    const theirs = withVariants(['webp'], 'owner-b')
    const missing = newImageId()

    const result = await getMany(ctx, { imageIds: [missing, all, webpOnly, none, theirs, all], variant: 'thumbnail', accept: CHROME })
    expect(result.items.map((i) => [i.imageId, i.format, i.negotiated])).toEqual([
      [all, 'avif', true],
      [webpOnly, 'webp', true],
    ])
    expect(result.items[1]?.downloadUrl).toBe(`https://cdn.test/variants/${webpOnly}/thumbnail.webp?sig=1`)
    expect(result.notFound).toEqual([missing, none, theirs])
    expect(images.findByIdsCalls).toHaveLength(1)
  })

  it('with an explicit format, signs only the images that have it', async () => {
    const { getMany, withVariants } = setup()
    const [withJpeg, withoutJpeg] = [withVariants(['webp', 'jpeg']), withVariants(['webp'])]
    const result = await getMany(ctx, { imageIds: [withJpeg, withoutJpeg], variant: 'thumbnail', format: 'jpeg' })
    expect(result.items.map((i) => [i.imageId, i.format, i.negotiated])).toEqual([[withJpeg, 'jpeg', false]])
    expect(result.notFound).toEqual([withoutJpeg])
  })
})
