import { describe, expect, it } from 'vitest'
import { createMessageParser } from './message-schema.ts'
import { ValidateImageMessage } from './messages.ts'

const parse = createMessageParser(ValidateImageMessage)
const ID = '01JD5Z8Q3M4N5P6R7S8T9V0W1X'

describe('createMessageParser(ValidateImageMessage)', () => {
  it('reads a validate message', () => {
    expect(parse(JSON.stringify({ type: 'validate', image_id: ID }))).toEqual({ ok: true, value: { type: 'validate', image_id: ID } })
  })

  it.each([
    ['not JSON', '{"type":', 'body is not JSON'],
    ['an invalid image id', JSON.stringify({ type: 'validate', image_id: 'uploads/x' }), 'body does not match the schema at /image_id'],
    ['an unknown field', JSON.stringify({ type: 'validate', image_id: ID, extra: 1 }), 'body does not match the schema'],
    ['another type', JSON.stringify({ type: 'derive', image_id: ID }), 'body does not match the schema at /type'],
  ])('refuses %s as a value, never a throw', (_name, body, problem) => {
    const parsed = parse(body)
    expect(parsed.ok).toBe(false)
    expect(parsed.ok ? '' : parsed.problem).toContain(problem)
  })
})
