import { FormatRegistry } from '@sinclair/typebox'

// TypeBox's Value.Check knows no string formats until told; Fastify's ajv knows these two.
// Tests check responses against the route schemas with the same meaning.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set(
    'date-time',
    (value) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(value) && !Number.isNaN(Date.parse(value)),
  )
}
if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', (value) => URL.canParse(value))
}
