import { DependencyUnavailableError, type ImageId, type ValidationOutcome } from '@image-service/foundation'
import { describe, expect, it } from 'vitest'
import { createUploadsMessageHandler } from './handle-message.ts'

const BUCKET = 'image-uploads'
const A = '01JD5Z8Q3M4N5P6R7S8T9V0W1X' as ImageId
const B = '01JD5Z8Q3M4N5P6R7S8T9V0W1Y' as ImageId

const created = (...ids: string[]) =>
  JSON.stringify({
    Records: ids.map((id) => ({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key: `uploads/${id}` } } })),
  })
const message = (body: string) => ({ queue: 'image-uploads', messageId: 'm-1', body, receiveCount: 1 })

/** ValidateImage answering from a table (a function throws or returns), and storage holding `objects`. */
function handler(outcomes: Record<string, ValidationOutcome | (() => never)>, objects: string[] = []) {
  const validated: string[] = []
  const handle = createUploadsMessageHandler({
    validate: async (_ctx, id) => {
      validated.push(id)
      const outcome = outcomes[id]
      if (outcome === undefined) throw new Error(`no outcome for ${id}`)
      return typeof outcome === 'function' ? outcome() : outcome
    },
    storage: {
      getObjectMetadata: async (key) =>
        objects.includes(key) ? { sizeBytes: 1, contentType: 'image/png', etag: '"e"', headers: {} } : null,
    },
    bucket: BUCKET,
  })
  return { handle, validated }
}

describe('createUploadsMessageHandler', () => {
  it('acknowledges a message whose records all reached an outcome, reporting each', async () => {
    const { handle } = handler({ [A]: { outcome: 'ready', sizeBytes: 10 }, [B]: { outcome: 'failed', reason: 'corrupt' } })
    const result = await handle(message(created(A, B)))
    expect(result).toMatchObject({
      type: 'ack',
      subjects: [
        { id: A, outcome: 'ready' },
        { id: B, outcome: 'failed', reason: 'corrupt' },
      ],
    })
    expect(result.subjects?.every((s) => typeof s.durationMs === 'number')).toBe(true)
  })

  it("maps ValidateImage's retry outcome to a retry of the message, with the soonest delay asked for", async () => {
    const { handle } = handler({
      [A]: { outcome: 'retry', reason: 'IMAGE_RECORD_NOT_FOUND', afterSeconds: 20 },
      [B]: { outcome: 'retry', reason: 'DATABASE_UNAVAILABLE', afterSeconds: 5 },
    })
    expect(await handle(message(created(A, B)))).toMatchObject({
      type: 'retry',
      reason: 'IMAGE_RECORD_NOT_FOUND',
      afterSeconds: 5,
      subjects: [
        { id: A, outcome: 'retry', reason: 'IMAGE_RECORD_NOT_FOUND' },
        { id: B, outcome: 'retry', reason: 'DATABASE_UNAVAILABLE' },
      ],
    })
  })

  it('treats a thrown error as a retry too (its code, or UNEXPECTED), and still handles the other records', async () => {
    const down = new DependencyUnavailableError('STORAGE_UNAVAILABLE', 'connect ECONNREFUSED')
    const { handle, validated } = handler({
      [A]: () => {
        throw down
      },
      [B]: { outcome: 'skipped', status: 'ready' },
    })
    const result = await handle(message(created(A, B)))
    expect(result).toMatchObject({
      type: 'retry',
      reason: 'STORAGE_UNAVAILABLE',
      subjects: [
        { id: A, outcome: 'retry', error: down },
        { id: B, outcome: 'skipped', reason: 'ready' },
      ],
    })
    expect(result).not.toHaveProperty('afterSeconds')
    expect(validated).toEqual([A, B])

    const bug = handler({
      [A]: () => {
        throw new TypeError('undefined is not a function')
      },
    })
    expect(await bug.handle(message(created(A)))).toMatchObject({ type: 'retry', reason: 'UNEXPECTED' })
  })

  it('acknowledges what it cannot act on, with a reason code per record', async () => {
    const { handle, validated } = handler({})
    const result = await handle(message(JSON.stringify({ Records: [{ eventName: 'ObjectRemoved:Delete' }] })))
    expect(result).toEqual({
      type: 'ack',
      subjects: [
        {
          outcome: 'ignored',
          reason: 'not_an_objectcreated_event',
          detail: { reason: 'not an ObjectCreated event', eventName: 'ObjectRemoved:Delete' },
        },
      ],
    })
    expect(await handle(message('not json'))).toMatchObject({ type: 'ack', subjects: [{ outcome: 'ignored', reason: 'body_is_not_json' }] })
    expect(validated).toEqual([])
  })

  it('validates on a validate message when the object is there, and leaves the record pending when it is not', async () => {
    const { handle, validated } = handler(
      { [A]: { outcome: 'ready', sizeBytes: 1 }, [B]: { outcome: 'failed', reason: 'missing_object' } },
      [`uploads/${A}`],
    )
    const validateMessage = (id: string) => message(JSON.stringify({ type: 'validate', image_id: id }))
    expect(await handle(validateMessage(A))).toMatchObject({ type: 'ack', subjects: [{ id: A, outcome: 'ready' }] })
    expect(await handle(validateMessage(B))).toMatchObject({
      type: 'ack',
      subjects: [{ id: B, outcome: 'skipped', reason: 'missing_object' }],
    })
    expect(validated).toEqual([A])
  })
})
