import { waitFor } from '@image-service/devstack'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { type Stack, startStack } from './testing/harness.ts'
import { jobReached, type JobsWorld, OWNER, startJobsProcessor, startJobsWorld } from './testing/jobs-harness.ts'

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

function processor(options: Parameters<typeof startJobsProcessor>[2] = {}) {
  const running = startJobsProcessor(stack, world, options)
  cleanups.push(() => running.stop())
  return running
}

const eventsOf = async (jobId: string) =>
  (await stack.db.sql<{ type: string }[]>`SELECT type FROM events WHERE subject_id = ${jobId} ORDER BY id`).map((e) => e.type)

describe('the runner', () => {
  it('runs a job through fal and keeps its result as a new, validated upload of the owner', async () => {
    const { spy } = processor()
    const source = await world.readySource()
    const job = await world.start(source, 'restyle', { prompt: 'a watercolour' })
    await jobReached(spy, job.id, 'succeeded')

    const done = await world.jobs.findById(job.id)
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1 })
    expect(done?.resultImageIds).toHaveLength(1)
    const result = await stack.images.findById(done?.resultImageIds[0] ?? ('' as never))
    expect(result).toMatchObject({ status: 'ready', ownerId: OWNER, sourceImageId: source, jobId: job.id, contentType: 'image/png' })
    // A real image, made from the source: same size, other pixels.
    const object = await stack.storage.getObjectMetadata(result?.objectKey ?? '')
    expect(object?.sizeBytes).toBe(result?.sizeBytes)
    expect(await eventsOf(job.id)).toEqual(['job.queued', 'job.running', 'job.succeeded'])
    // fal got the workflow's model and defaults, and a presigned GET of the source (no credentials of ours).
    const request = [...world.fal.requests.values()].find((r) => r.requestId === done?.providerRequestId)
    expect(request?.endpoint).toBe('fal-ai/flux/dev/image-to-image')
    expect(request?.input).toMatchObject({ prompt: 'a watercolour', strength: 0.85, num_images: 1 })
    expect(String(request?.input.image_url)).toContain('X-Amz-Signature=')
  })

  it('lets the fal client retry three 429s by itself: one attempt of ours, four tries seen in requestMiddleware', async () => {
    const submits: string[] = []
    const { spy } = processor({ onFalRequest: (r) => r.method === 'POST' && submits.push(r.url) })
    world.fal.failNext('submit', 429, 3)
    const job = await world.start(await world.readySource())
    await jobReached(spy, job.id, 'succeeded')
    expect(submits).toHaveLength(4)
    expect(world.fal.calls.filter((c) => c.operation === 'submit' && c.status === 429)).toHaveLength(3)
    expect(await world.jobs.findById(job.id)).toMatchObject({ status: 'succeeded', attempts: 1 })
  }, 60_000)

  it('opens the breaker while fal keeps failing: jobs wait queued, and resume once it closes', async () => {
    const { spy } = processor({ env: { FAL_BREAKER_THRESHOLD: '2', FAL_BREAKER_OPEN_SECONDS: '5', JOB_MAX_ATTEMPTS: '10' } })
    world.fal.failNext('submit', 500, 2)
    const source = await world.readySource()
    const first = await world.start(source)
    // Two failed submissions open the breaker; the first job waits without another attempt.
    await spy.waitForMessage((m) => m.subjects.some((s) => s.id === first.id && s.reason === 'breaker_open'))
    const second = await world.start(source)
    await spy.waitForMessage((m) => m.subjects.some((s) => s.id === second.id && s.reason === 'breaker_open'))
    expect(await world.jobs.findById(first.id)).toMatchObject({ status: 'queued', attempts: 2 })
    expect(await world.jobs.findById(second.id)).toMatchObject({ status: 'queued', attempts: 0 })
    // Once open for 5 s (long enough to see both jobs wait on a busy machine), a trial goes through and both finish.
    await jobReached(spy, first.id, 'succeeded')
    await jobReached(spy, second.id, 'succeeded')
    expect(await world.jobs.findById(first.id)).toMatchObject({ attempts: 3 })
    expect(await world.jobs.findById(second.id)).toMatchObject({ attempts: 1 })
    expect(world.fal.calls.filter((c) => c.operation === 'submit' && c.status === 500)).toHaveLength(2)
  }, 60_000)

  it("fails a job fal refuses (422) with the provider's message", async () => {
    const { spy } = processor()
    world.fal.queueOutcomes({ type: 'validation_error', message: 'no face found in the image' })
    const job = await world.start(await world.readySource())
    await jobReached(spy, job.id, 'failed')
    const failed = await world.jobs.findById(job.id)
    expect(failed?.status).toBe('failed')
    expect(failed?.error).toMatchObject({ code: 'PROVIDER_REJECTED' })
    expect(failed?.error?.message).toContain('no face found in the image')
    expect(failed?.resultImageIds).toEqual([])
    expect(await eventsOf(job.id)).toEqual(['job.queued', 'job.running', 'job.failed'])
  })

  it.each([
    ['not an image', { type: 'not_an_image' } as const],
    ['a decompression bomb', { type: 'bomb' } as const],
  ])('fails a job whose output is %s: the result fails validation and nothing downloadable is left', async (_name, outcome) => {
    const { spy } = processor()
    world.fal.queueOutcomes(outcome)
    const job = await world.start(await world.readySource())
    await jobReached(spy, job.id, 'failed')
    const failed = await world.jobs.findById(job.id)
    expect(failed?.error?.code).toBe('RESULTS_FAILED')
    const resultId = failed?.resultImageIds[0]
    expect(failed?.error?.results).toEqual([{ image_id: resultId, reason: expect.any(String) }])
    const result = await stack.images.findById(resultId ?? ('' as never))
    expect(result?.status).toBe('failed')
    expect(await stack.storage.getObjectMetadata(result?.objectKey ?? '')).toBeNull()
    // Its reservation went back: only the source counts.
    expect((await stack.images.usageOf(OWNER)).reservedBytes).toBe(0)
  })

  it('cancels a queued job at once: fal never sees it', async () => {
    const source = await world.readySource()
    const submitted = world.fal.requests.size
    const job = await world.start(source)
    const cancelled = await world.cancel(job.id)
    expect(cancelled.status).toBe('cancelled')
    const { spy } = processor()
    await spy.waitForMessage((m) => m.subjects.some((s) => s.id === job.id))
    expect(world.fal.requests.size).toBe(submitted)
    expect(await world.jobs.findById(job.id)).toMatchObject({ status: 'cancelled', attempts: 0, providerRequestId: null })
    expect(await eventsOf(job.id)).toEqual(['job.queued', 'job.cancelled'])
  })

  it.each([
    ["waiting in fal's queue", { queueDelayMs: 60_000 }, 'in_queue'],
    ['running at fal', { modelLatencyMs: 60_000 }, 'in_progress'],
  ])('cancels a job %s: cancelled, and fal saw the cancel', async (_name, timing, reason) => {
    world.fal.setTiming(timing)
    cleanups.push(async () => world.fal.setTiming({ queueDelayMs: 0, modelLatencyMs: 0 }))
    const { spy } = processor()
    const job = await world.start(await world.readySource())
    await spy.waitForMessage((m) => m.subjects.some((s) => s.id === job.id && s.reason === reason))
    const running = await world.jobs.findById(job.id)
    expect(running?.status).toBe('running')
    await world.cancel(job.id)
    await jobReached(spy, job.id, 'cancelled')
    expect(world.fal.cancels).toContain(running?.providerRequestId)
    expect(await world.jobs.findById(job.id)).toMatchObject({ status: 'cancelled', resultImageIds: [] })
  })

  it('tries a cancel fal does not take (500) again: the look is left for redelivery, and the next one cancels at fal', async () => {
    world.fal.setTiming({ modelLatencyMs: 60_000 })
    cleanups.push(async () => world.fal.setTiming({ queueDelayMs: 0, modelLatencyMs: 0 }))
    const { spy } = processor()
    const job = await world.start(await world.readySource())
    await spy.waitForMessage((m) => m.subjects.some((s) => s.id === job.id && s.reason === 'in_progress'))
    const requestId = (await world.jobs.findById(job.id))?.providerRequestId ?? ''
    world.fal.failNext('cancel', 500, 1)
    await world.cancel(job.id)
    await spy.waitForMessage((m) =>
      m.subjects.some((s) => s.id === job.id && s.outcome === 'retry' && s.reason === 'provider_cancel_failed'),
    )
    await jobReached(spy, job.id, 'cancelled')
    expect(world.fal.cancels).toContain(requestId)
    expect(world.fal.requests.get(requestId)?.cancelled).toBe(true)
    expect((await world.jobs.findById(job.id))?.providerCancelledAt).not.toBeNull()
  })

  it('a job cancelled while fal is taking it keeps the request id, and the runner cancels that request at fal', async () => {
    // The model takes a minute: the request is still running at fal when it is cancelled.
    world.fal.setTiming({ modelLatencyMs: 60_000 })
    cleanups.push(async () => world.fal.setTiming({ queueDelayMs: 0, modelLatencyMs: 0 }))
    const { spy } = processor()
    const taken = world.fal.submitsTaken
    const release = world.fal.holdSubmits()
    cleanups.push(async () => release())
    const job = await world.start(await world.readySource())
    await waitFor(() => (world.fal.submitsTaken > taken ? true : undefined), { timeoutMs: 30_000, description: 'the submit taken' })
    // fal has the request; the runner has no answer yet, and the job is still queued.
    expect(await world.cancel(job.id)).toMatchObject({ status: 'cancelled' })
    release()
    await jobReached(spy, job.id, 'cancelled')
    const cancelled = await world.jobs.findById(job.id)
    const requestId = cancelled?.providerRequestId ?? ''
    expect(world.fal.requests.get(requestId)?.cancelled).toBe(true)
    expect(world.fal.cancels).toContain(requestId)
    expect(cancelled).toMatchObject({ status: 'cancelled', attempts: 1, resultImageIds: [] })
    expect(cancelled?.providerCancelledAt).not.toBeNull()
    expect(await eventsOf(job.id)).toEqual(['job.queued', 'job.cancelled'])
  })

  it('follows a job at once when its webhook came before the request id was stored, instead of waiting for it', async () => {
    // A webhook timeout the test would never outlast: only the early webhook can finish the job.
    const { spy } = processor({ env: { PUBLIC_BASE_URL: 'http://127.0.0.1:9', FAL_WEBHOOK_TIMEOUT_SECONDS: '900' } })
    const taken = world.fal.submitsTaken
    const release = world.fal.holdSubmits()
    cleanups.push(async () => release())
    const job = await world.start(await world.readySource())
    await waitFor(() => (world.fal.submitsTaken > taken ? true : undefined), { timeoutMs: 30_000, description: 'the submit taken' })
    // fal's answer to the submit is held; its webhook arrives first (as the api keeps it: no job yet).
    const requestId = [...world.fal.requests.keys()].at(-1) ?? ''
    expect(await world.jobs.findByProviderRequestId(requestId)).toBeNull()
    expect(await world.jobs.recordWebhook(requestId, null)).toBe(true)
    release()
    await jobReached(spy, job.id, 'succeeded')
    expect(spy.messages.some((m) => m.subjects.some((s) => s.id === job.id && s.reason === 'awaiting_webhook'))).toBe(false)
  })

  it("follows fal's webhook when PUBLIC_BASE_URL is set, and polls when it never comes", async () => {
    const { spy } = processor({ env: { PUBLIC_BASE_URL: 'http://127.0.0.1:9', FAL_WEBHOOK_TIMEOUT_SECONDS: '1' } })
    const job = await world.start(await world.readySource())
    await jobReached(spy, job.id, 'succeeded')
    const request = world.fal.requests.get((await world.jobs.findById(job.id))?.providerRequestId ?? '')
    expect(request?.webhookUrl).toBe('http://127.0.0.1:9/api/image/v1/processing/webhooks/fal')
    expect(spy.messages.some((m) => m.subjects.some((s) => s.id === job.id && s.reason === 'awaiting_webhook'))).toBe(true)
  })
})
