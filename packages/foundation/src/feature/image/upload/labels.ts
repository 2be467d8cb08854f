import { AppError } from '../../../common/errors.ts'
import type { Labels } from '../../../shared/image/image.ts'

export const MAX_LABELS = 10
export const LABEL_KEY_PATTERN = '^[a-z][a-z0-9_]{0,31}$'
export const MAX_LABEL_VALUE_LENGTH = 128
const labelKey = new RegExp(LABEL_KEY_PATTERN)
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const controlCharacter = /[\u0000-\u001f\u007f]/

export class InvalidLabelsError extends AppError {
  declare readonly code: 'INVALID_LABELS'

  constructor(message: string) {
    super('invalid', 'INVALID_LABELS', message)
  }
}

/**
 * DESIGN's label rules: at most 10; keys `^[a-z][a-z0-9_]{0,31}$`; values 1..128 characters
 * (code points), no control characters. Every problem is named in one message.
 */
export function parseLabels(input: unknown): Labels {
  if (input === undefined) return {}
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InvalidLabelsError('labels must be an object of strings')
  const entries = Object.entries(input)
  const problems: string[] = []
  if (entries.length > MAX_LABELS) problems.push(`at most ${MAX_LABELS} labels; got ${entries.length}`)
  for (const [key, value] of entries) {
    if (!labelKey.test(key)) problems.push(`key ${JSON.stringify(key.slice(0, 40))} must match ${LABEL_KEY_PATTERN}`)
    if (typeof value !== 'string') {
      problems.push(`value of ${JSON.stringify(key.slice(0, 40))} must be a string`)
      continue
    }
    const length = [...value].length
    if (length < 1 || length > MAX_LABEL_VALUE_LENGTH || controlCharacter.test(value)) {
      problems.push(
        `value of ${JSON.stringify(key.slice(0, 40))} must be 1..${MAX_LABEL_VALUE_LENGTH} characters without control characters`,
      )
    }
  }
  if (problems.length > 0) throw new InvalidLabelsError(`invalid labels: ${problems.join('; ')}`)
  return Object.fromEntries(entries) as Labels
}
