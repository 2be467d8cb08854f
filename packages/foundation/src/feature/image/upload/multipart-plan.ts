import { MultipartError } from './multipart-errors.ts'
import type { StoredPart } from './multipart-storage.ts'

/** S3's limits: every part but the last at least 5 MiB, at most 10,000 parts. */
export const MIN_PART_BYTES = 5 * 1024 * 1024
export const MAX_PARTS = 10_000

/** max(5 MiB, ceil(size / 10000)): the fewest parts S3 allows, never more than 10,000. */
export function partSizeFor(sizeBytes: number): number {
  return Math.max(MIN_PART_BYTES, Math.ceil(sizeBytes / MAX_PARTS))
}

export type PlannedPart = { partNumber: number; sizeBytes: number }

/** The parts an upload of this size is cut into: all of `partSize` but the last, which holds the rest. */
export function planParts(sizeBytes: number, partSize: number): PlannedPart[] {
  const count = Math.ceil(sizeBytes / partSize)
  return Array.from({ length: count }, (_, i) => ({
    partNumber: i + 1,
    sizeBytes: i === count - 1 ? sizeBytes - partSize * (count - 1) : partSize,
  }))
}

const unquoted = (etag: string) => etag.replaceAll('"', '')

/**
 * The client's part list against the plan and against what storage holds (ListParts): every
 * planned part exactly once, in ascending order, each with the ETag storage reports for it.
 * Anything else is 400 INVALID_PARTS naming the first problem, before storage is asked to
 * complete: no store then assembles an object other than the declared one.
 */
export function checkPartList(
  given: readonly { partNumber: number; etag: string }[],
  planned: readonly PlannedPart[],
  stored: readonly StoredPart[],
): { partNumber: number; etag: string }[] {
  const invalid = (message: string) => new MultipartError('INVALID_PARTS', message)
  const held = new Map(stored.map((part) => [part.partNumber, part]))
  const seen = new Set<number>()
  given.forEach((part, index) => {
    if (seen.has(part.partNumber)) throw invalid(`part ${part.partNumber} is listed twice`)
    seen.add(part.partNumber)
    const previous = given[index - 1]
    if (previous !== undefined && part.partNumber < previous.partNumber) {
      throw invalid(`parts must be listed in ascending order; ${part.partNumber} comes after ${previous.partNumber}`)
    }
  })
  for (const part of given) {
    if (part.partNumber > planned.length || part.partNumber < 1) {
      throw invalid(`part ${part.partNumber} is not one of this upload's ${planned.length} parts`)
    }
    const found = held.get(part.partNumber)
    if (found === undefined) throw invalid(`part ${part.partNumber} has not been uploaded`)
    if (unquoted(found.etag) !== unquoted(part.etag)) throw invalid(`part ${part.partNumber} has another ETag in storage`)
  }
  const missing = planned.filter((part) => !seen.has(part.partNumber)).map((part) => part.partNumber)
  if (missing.length > 0) throw invalid(`the part list leaves out part${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`)
  return given.map((part) => ({ partNumber: part.partNumber, etag: held.get(part.partNumber)?.etag ?? part.etag }))
}
