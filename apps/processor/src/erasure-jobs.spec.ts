import { randomBytes } from 'node:crypto'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { waitFor } from '@image-service/devstack'
import { createRequestOwnerErasure, erasureProgress, type Job, newJobId, type SweepReport, userContext } from '@image-service/foundation'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { createProcessorContainer } from './container.ts'
import { credentialsOf, processorConfig, silentLog, type Stack, startStack } from './testing/harness.ts'
import { jobReached, type JobsWorld, startJobsProcessor, startJobsWorld } from './testing/jobs-harness.ts'

const MINUTE = 60_000

let stack: Stack
let world: JobsWorld
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  stack = await startStack(inject('databaseServerUrl'))
  world = await startJobsWorld(stack)
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  await world?.stop()
  await stack?.stop()
})

const owner = () => `owner-${randomBytes(4).toString('hex')}`

/** A running processor (runner and uploads consumer), stopped once: by the test or at cleanup. */
function processor() {
  const running = startJobsProcessor(stack, world)
  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= running.stop()
    return stopped
  }
  cleanups.push(stop)
  return { ...running, stop }
}

/**
 * The processor's own sweeper (the fal client wired as in production), its clock 11 minutes
 * on so that erased records' objects count as settled and are purged in the same few sweeps.
 * Its queue consumers are not started.
 */
function sweeper() {
  const container = createProcessorContainer(processorConfig(stack, world.uploadsQueueUrl, world.env()), silentLog, {
    ...credentialsOf(stack),
    now: () => new Date(Date.now() + 11 * MINUTE),
  })
  cleanups.push(() => container.close())
  return async (): Promise<SweepReport> => {
    const result = await container.sweeper.sweepOnce()
    if (!result.swept) throw new Error('the sweep did not get the lock')
    expect(result.failedSteps).toEqual([])
    return result.report
  }
}

/** Sweeps until the owner's erasure completes (at most `max` sweeps); the reports, in order. */
async function sweepUntilErased(sweep: () => Promise<SweepReport>, ownerId: string, max = 4): Promise<SweepReport[]> {
  const reports: SweepReport[] = []
  while (reports.length < max && (await erasureProgress(stack.db.sql, ownerId))?.status !== 'completed') reports.push(await sweep())
  return reports
}

/** A job that reached fal and is running there (the model takes minutes); its fal request id. */
async function runningAtFal(spy: ReturnType<typeof processor>['spy'], job: Job): Promise<string> {
  await spy.waitForMessage((m) => m.subjects.some((s) => s.id === job.id && s.reason === 'in_progress'))
  const running = await world.jobs.findById(job.id)
  expect(running?.status).toBe('running')
  return running?.providerRequestId ?? ''
}

const jobRows = async (ownerId: string) =>
  (
    await stack.db.sql<{ id: string; status: string }[]>`SELECT id, status FROM processing_jobs WHERE owner_id = ${ownerId} ORDER BY id`
  ).map((r) => ({ id: r.id, status: r.status }))
const eventsOf = async (jobId: string) =>
  (await stack.db.sql<{ type: string }[]>`SELECT type FROM events WHERE subject_id = ${jobId} ORDER BY id`).map((e) => e.type)
const recordsOf = async (ownerId: string) =>
  (await stack.db.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM image_records WHERE owner_id = ${ownerId}`)[0]?.count

/** Keys stored under a prefix, by a real listing. */
const keysUnder = async (prefix: string) =>
  ((await stack.s3Client.send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key)

const slowModel = () => {
  world.fal.setTiming({ modelLatencyMs: 10 * MINUTE })
  cleanups.push(async () => world.fal.setTiming({ queueDelayMs: 0, modelLatencyMs: 0 }))
}

describe('owner erasure and AI jobs', () => {
  it("cancels the erased owner's running fal request, removes every job of theirs with its events, and leaves other owners' jobs alone", async () => {
    const erased = owner()
    const other = owner()
    const p = processor()
    const [source, otherSource] = await Promise.all([world.readySource(erased), world.readySource(other)])
    const succeeded = await world.start(source, 'hairstyle', {}, erased)
    const otherSucceeded = await world.start(otherSource, 'hairstyle', {}, other)
    await jobReached(p.spy, succeeded.id, 'succeeded')
    await jobReached(p.spy, otherSucceeded.id, 'succeeded')
    slowModel()
    const running = await world.start(source, 'hairstyle', {}, erased)
    const otherRunning = await world.start(otherSource, 'hairstyle', {}, other)
    const requestId = await runningAtFal(p.spy, running)
    const otherRequestId = await runningAtFal(p.spy, otherRunning)
    // No runner from here on: what happens to the jobs is the sweep's doing alone.
    await p.stop()
    // A queued job (its queue message never sent, so it stays queued).
    const decision = await world.jobs.insertQueued(
      {
        id: newJobId(),
        ownerId: erased,
        imageId: source,
        workflowId: 'hairstyle',
        model: 'fal-ai/image-apps-v2/hair-change',
        parameters: {},
        input: {},
      },
      { maxActive: 100 },
      userContext(erased),
    )
    if (decision.outcome !== 'created') throw new Error(`the queued job was not created: ${decision.outcome}`)
    const queued = decision.job
    const erasedJobs = [succeeded.id, running.id, queued.id]
    const resultId = (await world.jobs.findById(succeeded.id))?.resultImageIds[0]
    expect(resultId).toBeDefined()
    // The result is stored, with its variants.
    expect(await keysUnder(`uploads/${resultId}`)).toEqual([`uploads/${resultId}`])
    expect((await keysUnder(`variants/${resultId}/`)).length).toBeGreaterThan(0)
    expect(await jobRows(erased)).toEqual(
      [
        { id: succeeded.id, status: 'succeeded' },
        { id: running.id, status: 'running' },
        { id: queued.id, status: 'queued' },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    )
    const otherEventsBefore = await Promise.all([eventsOf(otherSucceeded.id), eventsOf(otherRunning.id)])

    const asked = await createRequestOwnerErasure({ sql: stack.db.sql })(userContext(erased))
    expect(asked).toMatchObject({ status: 'running', jobsRemaining: 3, recordsRemaining: 2 })
    const cancelsBefore = world.fal.cancels.length
    const reports = await sweepUntilErased(sweeper(), erased)

    expect(await erasureProgress(stack.db.sql, erased)).toMatchObject({
      status: 'completed',
      imagesErased: 2,
      recordsRemaining: 0,
      jobsRemaining: 0,
    })
    // The running request was cancelled at fal, once; the queued one never reached fal.
    expect(world.fal.cancels.slice(cancelsBefore)).toEqual([requestId])
    expect(world.fal.requests.get(requestId)?.cancelled).toBe(true)
    expect(reports.reduce((n, r) => n + r.falRequestsCancelled, 0)).toBe(1)
    expect(reports.reduce((n, r) => n + r.jobsErased, 0)).toBe(3)
    // No job row of the owner, no event of those jobs, no record (the source and the result).
    expect(await jobRows(erased)).toEqual([])
    for (const id of erasedJobs) expect(await eventsOf(id)).toEqual([])
    expect(await recordsOf(erased)).toBe(0)
    expect(await stack.images.findById(resultId as never)).toBeNull()
    expect(await keysUnder(`uploads/${resultId}`)).toEqual([])
    expect(await keysUnder(`variants/${resultId}/`)).toEqual([])
    // The other owner's jobs, requests and events are as they were.
    expect(await jobRows(other)).toEqual(
      [
        { id: otherSucceeded.id, status: 'succeeded' },
        { id: otherRunning.id, status: 'running' },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    )
    expect(world.fal.requests.get(otherRequestId)?.cancelled).toBe(false)
    expect(await Promise.all([eventsOf(otherSucceeded.id), eventsOf(otherRunning.id)])).toEqual(otherEventsBefore)
    expect(await recordsOf(other)).toBe(2)
  }, 60_000)

  it('a cancel fal does not take (500) keeps the job and is tried again on the next sweep', async () => {
    const erased = owner()
    const p = processor()
    slowModel()
    const job = await world.start(await world.readySource(erased), 'hairstyle', {}, erased)
    const requestId = await runningAtFal(p.spy, job)
    await p.stop()
    await createRequestOwnerErasure({ sql: stack.db.sql })(userContext(erased))
    const sweep = sweeper()
    const failedBefore = world.fal.calls.filter((c) => c.operation === 'cancel' && c.status === 500).length
    world.fal.failNext('cancel', 500, 1)

    const first = await sweep()
    expect(first).toMatchObject({ falCancelsFailed: 1, falRequestsCancelled: 0 })
    expect(world.fal.calls.filter((c) => c.operation === 'cancel' && c.status === 500)).toHaveLength(failedBefore + 1)
    expect(world.fal.cancels).not.toContain(requestId)
    // The job stays, cancelled here and not yet at fal; the erasure is not done.
    expect(await world.jobs.findById(job.id)).toMatchObject({ status: 'cancelled', providerCancelledAt: null })
    expect(await erasureProgress(stack.db.sql, erased)).toMatchObject({ status: 'running', jobsRemaining: 1 })

    const second = await sweep()
    expect(second).toMatchObject({ falCancelsFailed: 0, falRequestsCancelled: 1, jobsErased: 1 })
    expect(world.fal.cancels).toContain(requestId)
    expect(await world.jobs.findById(job.id)).toBeNull()
    expect(await eventsOf(job.id)).toEqual([])
    await sweepUntilErased(sweep, erased)
    expect(await erasureProgress(stack.db.sql, erased)).toMatchObject({ status: 'completed', jobsRemaining: 0, recordsRemaining: 0 })
  }, 60_000)

  it("a job a runner is submitting stays until the runner lets go: it then cancels fal's request, and the next sweep completes the erasure", async () => {
    const erased = owner()
    const p = processor()
    slowModel()
    const taken = world.fal.submitsTaken
    const release = world.fal.holdSubmits()
    cleanups.push(async () => release())
    const job = await world.start(await world.readySource(erased), 'hairstyle', {}, erased)
    await waitFor(() => (world.fal.submitsTaken > taken ? true : undefined), { timeoutMs: 30_000, description: 'the submit taken' })
    await createRequestOwnerErasure({ sql: stack.db.sql })(userContext(erased))
    const sweep = sweeper()

    // The runner holds the job (fal took it, its answer is on the way): cancelled, not removed.
    const first = await sweep()
    expect(first.jobsErased).toBe(0)
    expect(await world.jobs.findById(job.id)).toMatchObject({ status: 'cancelled', providerRequestId: null })
    expect(await erasureProgress(stack.db.sql, erased)).toMatchObject({ status: 'running', jobsRemaining: 1 })

    release()
    await jobReached(p.spy, job.id, 'cancelled')
    const requestId = (await world.jobs.findById(job.id))?.providerRequestId ?? ''
    expect(world.fal.requests.get(requestId)?.cancelled).toBe(true)
    await sweepUntilErased(sweep, erased)
    expect(await erasureProgress(stack.db.sql, erased)).toMatchObject({ status: 'completed', jobsRemaining: 0, recordsRemaining: 0 })
    expect(await world.jobs.findById(job.id)).toBeNull()
    expect(await eventsOf(job.id)).toEqual([])
  }, 60_000)

  it('a job in the runner when its owner is erased ends cancelled before its next result is stored; the erasure then removes it all', async () => {
    const erased = owner()
    const p = processor()
    // Two outputs; every download waits until released: the runner stops inside the first.
    const downloadsBefore = world.fal.outputDownloads
    const release = world.fal.holdOutputs()
    cleanups.push(async () => release())
    const job = await world.start(await world.readySource(erased), 'restyle', { prompt: 'a watercolour', num_images: 2 }, erased)
    await waitFor(() => (world.fal.outputDownloads > downloadsBefore ? true : undefined), {
      timeoutMs: 30_000,
      description: 'the first output download',
    })
    await createRequestOwnerErasure({ sql: stack.db.sql })(userContext(erased))
    release()
    const look = await jobReached(p.spy, job.id, 'cancelled')
    expect(look.subjects.find((s) => s.id === job.id)?.reason).toBe('owner_erased')

    const cancelled = await world.jobs.findById(job.id)
    expect(cancelled?.status).toBe('cancelled')
    // Only the output downloaded before the erasure became a record, and it is deleted; the second never did.
    const results = await stack.db.sql<{ id: string; status: string }[]>`SELECT id, status FROM image_records WHERE job_id = ${job.id}`
    expect(results).toEqual([{ id: expect.any(String), status: 'deleted' }])
    expect(world.fal.outputDownloads).toBe(downloadsBefore + 1)
    expect(await eventsOf(job.id)).toEqual(['job.queued', 'job.running', 'job.cancelled'])

    await sweepUntilErased(sweeper(), erased)
    expect(await erasureProgress(stack.db.sql, erased)).toMatchObject({ status: 'completed', jobsRemaining: 0, recordsRemaining: 0 })
    expect(await world.jobs.findById(job.id)).toBeNull()
    expect(await eventsOf(job.id)).toEqual([])
    expect(await recordsOf(erased)).toBe(0)
  }, 60_000)
})
