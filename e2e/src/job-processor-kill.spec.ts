import { type AppProcess, type LogLine, waitFor } from '@image-service/devstack'
import { readCorpusFile } from '@image-service/devstack/corpus'
import { createDatabase, type Database } from '@image-service/foundation'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { type IssuedUpload, putUpload } from './support/api-client.ts'
import { useSystem } from './support/use-system.ts'

// Requirement: a processor killed mid-job leaves a job that finishes once, with no duplicate
// results. The kill point is fixed by the fal emulator: it lets the first output of a
// two-output job through and holds the second one's download, so the processor dies with one
// result stored (its record and object) and the other planned but not yet created. The queue's
// visibility timeout and the runner's lease are short so the new processor takes over quickly.
const VISIBILITY_TIMEOUT_SECONDS = 3
const LEASE_SECONDS = 3

type JobBody = { job_id: string; status: string; attempts: number; result_image_ids: string[] }

const running = useSystem({
  visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
  env: { JOB_LEASE_SECONDS: String(LEASE_SECONDS), JOB_POLL_INTERVAL_SECONDS: '1' },
})
let database: Database | undefined
beforeAll(() => {
  database = createDatabase({ url: running().stack.database.url, poolMax: 2 })
})
afterAll(async () => {
  await database?.close()
})

const looksAt = (jobId: string, outcome: string) => (line: LogLine) => line.jobId === jobId && line.outcome === outcome

test('SIGKILL of the processor between two outputs of a job: the job succeeds once, with one result per output', async () => {
  const { api, stack, processors } = running()
  const first = processors[0] as AppProcess
  const db = (database as Database).sql

  const issued = await api.issueUpload('image/png', 'portrait.png')
  expect(issued.status, JSON.stringify(issued.body)).toBe(201)
  const source = issued.body as IssuedUpload
  await putUpload(source, readCorpusFile('valid-png-rgb-1024x768.png'))
  expect((await api.waitForFinal(source.image_id)).status).toBe('ready')

  const release = stack.fal.holdOutputs({ after: 1 })
  const downloadsBefore = stack.fal.outputDownloads
  const started = await api.request<JobBody>('POST', '/api/image/v1/processing/start', {
    image_id: source.image_id,
    workflow_id: 'restyle',
    parameters: { prompt: 'a watercolour', num_images: 2 },
  })
  expect(started.status, JSON.stringify(started.body)).toBe(202)
  const jobId = started.body.job_id

  // The first output is stored (its record created, its object PUT); the second download waits.
  await first.whileRunning(
    waitFor(
      async () => {
        if (stack.fal.outputDownloads < downloadsBefore + 2) return undefined
        const stored = await db<{ id: string }[]>`SELECT id FROM image_records WHERE job_id = ${jobId}`
        return stored.length === 1 && (await running().objectExists(stored[0]?.id ?? '')) ? true : undefined
      },
      { timeoutMs: 30_000, description: 'the first result stored and the second download held' },
    ),
    'the kill point',
  )
  const killed = await first.kill('SIGKILL')
  expect(killed.signal).toBe('SIGKILL')
  release()
  const atKill = await api.request<JobBody>('GET', `/api/image/v1/processing/${jobId}/status`)
  expect(atKill.body).toMatchObject({ status: 'running' })

  const second = await running().startProcessor()
  await second.waitForLog(looksAt(jobId, 'succeeded'), 'the job succeeded', 60_000)

  const done = await api.request<JobBody>('GET', `/api/image/v1/processing/${jobId}/status`)
  expect(done.body).toMatchObject({ status: 'succeeded', attempts: 1 })
  expect(done.body.result_image_ids).toHaveLength(2)
  // Exactly one upload per output: the ids chosen before the kill, no others of this job.
  const results = await db<{ id: string; status: string }[]>`SELECT id, status FROM image_records WHERE job_id = ${jobId} ORDER BY id`
  expect(results.map((r) => r.id).sort()).toEqual([...done.body.result_image_ids].sort())
  expect(results.map((r) => r.status)).toEqual(['ready', 'ready'])
  for (const id of done.body.result_image_ids) expect((await api.waitForFinal(id)).status).toBe('ready')
  // One submission to fal, and one terminal event (and one of each other state) for the job.
  expect([...stack.fal.requests.values()].filter((r) => r.input.prompt === 'a watercolour')).toHaveLength(1)
  const events = await db<{ type: string }[]>`SELECT type FROM events WHERE subject_id = ${jobId} ORDER BY id`
  expect(events.map((e) => e.type)).toEqual(['job.queued', 'job.running', 'job.succeeded'])
  // Only the new processor finished it; the old one never logged a final outcome for it.
  expect(first.logs().filter((line) => line.jobId === jobId && ['succeeded', 'failed'].includes(String(line.outcome)))).toEqual([])
})
