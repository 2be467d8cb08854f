import { systemContext } from '../../../shared/identity/request-context.ts'
import { readCorpusFile, readCorpusManifest, TEST_IMAGE_LIMITS as limits } from '@image-service/devstack/corpus'
import { afterAll, describe, expect, it } from 'vitest'
import { isAllowedContentType, newImageId, objectKeyFor } from '../../../shared/image/image.ts'
import { parseAllowedContentType } from '../upload/upload-rules.ts'
import { InMemoryImageRepository } from '../../../shared/image/testing/in-memory-image-repository.ts'
import { InMemoryImageStorage } from '../testing/in-memory-image-storage.ts'
import { specImageVariants } from '../variants/testing/spec-variants.ts'
import { createValidateImage } from './validate-image.ts'

const ctx = systemContext('spec', 'spec-request')

const cases = readCorpusManifest()
const durations: number[] = []

describe('ValidateImage on the upload corpus', () => {
  it('has cases to check', () => {
    expect(cases.length).toBeGreaterThan(100)
  })

  it.each(cases.map((c) => [`${c.expected} ${c.declared_content_type} ${c.file}`, c] as const))('%s', async (_name, c) => {
    if (!isAllowedContentType(c.declared_content_type)) {
      // Such an upload can never be issued: the presigned-URL command refuses the type.
      expect(c.expected).toBe('failed')
      expect(() => parseAllowedContentType(c.declared_content_type)).toThrow(/content_type must be one of/)
      return
    }
    const images = new InMemoryImageRepository()
    const storage = new InMemoryImageStorage()
    const id = newImageId()
    const objectKey = objectKeyFor(id)
    await images.save({ id, ownerId: 'owner-a', contentType: c.declared_content_type, fileName: c.file, objectKey })
    storage.objects.set(objectKey, readCorpusFile(c.file))

    const started = performance.now()
    const result = await createValidateImage({ images, storage, variants: specImageVariants(storage, limits), limits })(ctx, id)
    durations.push(performance.now() - started)

    const record = await images.findById(id)
    expect({ outcome: result.outcome, status: record?.status }).toEqual({ outcome: c.expected, status: c.expected })
    if (c.expected === 'failed') {
      expect(storage.objects.has(objectKey)).toBe(false)
      expect(record?.failureReason).toBe(result.outcome === 'failed' ? result.reason : undefined)
    } else {
      expect(record?.sizeBytes).toBe(storage.objects.get(objectKey)?.length)
    }
  })

  afterAll(() => {
    const total = durations.reduce((sum, d) => sum + d, 0)
    console.info(`corpus: ${durations.length} validations in ${total.toFixed(0)} ms (slowest ${Math.max(...durations).toFixed(0)} ms)`)
  })
})
