import { type LogLine, waitFor } from '@image-service/devstack'
import { type CorpusCase, readCorpusFile, readCorpusManifest } from '@image-service/devstack/corpus'
import pLimit from 'p-limit'
import { expect, test } from 'vitest'
import { type IssuedUpload, putUpload } from './support/api-client.ts'
import { useSystem } from './support/use-system.ts'

// Requirement: a processor killed mid-batch loses nothing and handles nothing twice. The queue's
// visibility timeout is short so the killed processor's in-flight messages come back quickly.
const BATCH_SIZE = 40
const VISIBILITY_TIMEOUT_SECONDS = 5

const running = useSystem({ visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS })

/** The valid corpus files, repeated until the batch is full. */
function readyBatch(): CorpusCase[] {
  const ready = readCorpusManifest().filter((c) => c.expected === 'ready')
  return Array.from({ length: BATCH_SIZE }, (_, i) => ready[i % ready.length] as CorpusCase)
}

/** One line per handled record: `{ imageId, outcome }` (see apps/processor log-processed.ts). */
const handledRecord = (line: LogLine): line is LogLine & { imageId: string; outcome: string } =>
  typeof line.imageId === 'string' && typeof line.outcome === 'string'
const isFinal = (line: LogLine) => handledRecord(line) && (line.outcome === 'ready' || line.outcome === 'failed')

test('SIGKILL of the processor mid-batch: every upload still reaches its final state, none is handled twice', async () => {
  const { api, processors } = running()
  const first = processors[0]
  if (!first) throw new Error('no processor running')
  const batch = readyBatch()

  const uploading = pLimit(8).map(batch, async (c) => {
    const issued = await api.issueUpload(c.declared_content_type, c.file)
    expect(issued.status, JSON.stringify(issued.body)).toBe(201)
    const upload = issued.body as IssuedUpload
    await putUpload(upload, readCorpusFile(c.file))
    return { imageId: upload.image_id, expected: c.expected, file: c.file }
  })
  // Kill as soon as the first record is final, while uploads are still arriving.
  await first.waitForLog(isFinal, 'first final outcome', 60_000)
  await first.kill('SIGKILL')
  const uploads = await uploading

  const atKill = await Promise.all(uploads.map(async (u) => ({ ...u, status: (await api.imageStatus(u.imageId)).body })))
  const pendingAtKill = atKill.filter((u) => 'status' in u.status && u.status.status === 'pending').map((u) => u.imageId)
  expect(pendingAtKill.length, 'the kill happened mid-batch').toBeGreaterThan(0)
  expect(pendingAtKill.length, 'the kill happened mid-batch').toBeLessThan(BATCH_SIZE)

  const second = await running().startProcessor()
  const finals = await Promise.all(uploads.map((u) => api.waitForFinal(u.imageId, 60_000)))
  finals.forEach((final, i) => {
    const upload = uploads[i]
    expect({ file: upload?.file, status: final.status, reason: final.failure_reason }).toEqual({
      file: upload?.file,
      status: upload?.expected,
      reason: null,
    })
  })

  // A record turns final a moment before the processor logs it: let the lines catch up.
  await waitFor(
    () => (pendingAtKill.every((id) => second.logs().some((line) => isFinal(line) && line.imageId === id)) ? true : undefined),
    { timeoutMs: 10_000, description: "the new processor's log lines for the records it finished" },
  )

  // Across both processors, an image has at most one outcome that changed it; redeliveries of
  // already-final records must be `skipped`.
  const outcomes = new Map<string, string[]>()
  for (const line of [...first.logs(), ...second.logs()].filter(handledRecord)) {
    outcomes.set(line.imageId, [...(outcomes.get(line.imageId) ?? []), `${line.outcome}`])
  }
  const handledTwice = [...outcomes].filter(([, list]) => list.filter((o) => o !== 'skipped').length > 1)
  expect(handledTwice, 'images with more than one non-skipped outcome').toEqual([])
  // The killed processor's in-flight messages came back after the visibility timeout.
  const redelivered = second.logs().filter((line) => handledRecord(line) && Number(line.receiveCount) > 1)
  expect(redelivered.length, 'messages redelivered to the new processor').toBeGreaterThan(0)
  // Only the new processor could finish what was pending when the old one died.
  const secondChanged = new Set(
    second
      .logs()
      .filter(isFinal)
      .map((line) => line.imageId),
  )
  expect(pendingAtKill.filter((id) => !secondChanged.has(id))).toEqual([])
})
