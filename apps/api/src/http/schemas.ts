import { type Static, Type } from '@sinclair/typebox'
import { IMAGE_ID_PATTERN } from '@image-service/foundation'

/** Fastify's error shape, with a stable `code` clients can branch on. */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
    error: Type.String({ description: 'HTTP reason phrase' }),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. INVALID_CONTENT_TYPE' }),
    message: Type.String({ description: 'Human-readable explanation; may change' }),
  },
  { title: 'ErrorResponse', additionalProperties: false },
)
export type ErrorResponse = Static<typeof ErrorResponse>

/** Error responses of a route: the given statuses plus 500, which any route can answer. */
export function errorResponses<const S extends readonly number[]>(...statuses: S) {
  return Object.fromEntries([...statuses, 500].map((s) => [s, ErrorResponse])) as Record<S[number] | 500, typeof ErrorResponse>
}

export const ImageIdSchema = Type.String({
  pattern: IMAGE_ID_PATTERN,
  minLength: 26,
  maxLength: 26,
  description: 'ULID (26 characters, Crockford base32)',
  examples: ['01JD3Z6Y7Q8R9S0T1V2W3X4Y5Z'],
})

export const ImageIdParams = Type.Object({ image_id: ImageIdSchema }, { additionalProperties: false })
export type ImageIdParams = Static<typeof ImageIdParams>

/** A string limited to a fixed set of values (shared constants, never retyped here). */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}) {
  return Type.Union(
    values.map((value: T[number]) => Type.Literal(value)),
    options,
  )
}

export const Timestamp = (description: string) => Type.String({ format: 'date-time', description })
