import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

export type ParsedBody<T> = { ok: true; value: T } | { ok: false; problem: string }

/**
 * A message body read against its TypeBox schema, compiled once. A body that is not JSON or
 * does not match is a value, not an exception: the handler acknowledges and logs it, since a
 * retry would end in the DLQ with the same result.
 */
export function createMessageParser<S extends TSchema>(schema: S): (body: string) => ParsedBody<Static<S>> {
  const check = TypeCompiler.Compile(schema)
  return (body) => {
    let document: unknown
    try {
      document = JSON.parse(body)
    } catch {
      return { ok: false, problem: 'body is not JSON' }
    }
    if (check.Check(document)) return { ok: true, value: document }
    const first = check.Errors(document).First()
    return { ok: false, problem: `body does not match the schema${first ? ` at ${first.path || '/'}: ${first.message}` : ''}` }
  }
}
