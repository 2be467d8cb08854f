import { randomBytes } from 'node:crypto'
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { type FalEmulator, type SqsEmulator, startFalEmulator, startSqsEmulator } from '@image-service/devstack'
import {
  createPostgresImageRepository,
  createPostgresJobRepository,
  type ImageId,
  type ImageRepository,
  type JobId,
  type JobRepository,
  newImageId,
  objectKeyFor,
} from '@image-service/foundation'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'

describe('processing routes', () => {
  let api: TestApi
  let app: ApiApp
  let sqs: SqsEmulator
  let sqsClient: SQSClient
  let fal: FalEmulator
  let queueUrl: string
  let images: ImageRepository
  let jobs: JobRepository

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-processing')
    sqs = await startSqsEmulator()
    fal = await startFalEmulator()
    const credentials = { accessKeyId: sqs.accessKeyId, secretAccessKey: sqs.secretAccessKey }
    queueUrl = (await sqs.createQueue(`jobs-${randomBytes(4).toString('hex')}`, { dlq: { maxReceiveCount: 3 } })).queueUrl
    sqsClient = new SQSClient({ endpoint: sqs.endpoint, region: sqs.region, credentials })
    app = await api.variant(
      {
        JOBS_QUEUE_URL: queueUrl,
        SQS_ENDPOINT: sqs.endpoint,
        FAL_WEBHOOK_JWKS_URL: fal.jwksUrl,
        JOB_MAX_CONCURRENT_PER_OWNER: '3',
      },
      { s3Credentials: api.s3Credentials, sqsCredentials: credentials },
    )
    images = createPostgresImageRepository(api.database.db)
    jobs = createPostgresJobRepository(api.database.db)
  })
  afterAll(async () => {
    sqsClient?.destroy()
    await fal?.stop()
    await sqs?.stop()
    await api?.close()
  })

  const as = (owner: string) => ({ app, owner })
  const start = (body: unknown, owner = 'owner-a', headers: Record<string, string> = {}) =>
    api.inject({ method: 'POST', url: '/api/image/v1/processing/start', payload: body as Record<string, unknown>, headers }, as(owner))

  async function image(owner: string, ready = true): Promise<ImageId> {
    const id = newImageId()
    await images.save({ id, ownerId: owner, contentType: 'image/png', fileName: 'portrait.png', objectKey: objectKeyFor(id) })
    if (ready) await images.transitionFromPending(id, { status: 'ready', sizeBytes: 100, etag: '"e"' })
    return id
  }

  /** Every message now on the jobs queue (received, so each is seen once). */
  async function drainQueue(): Promise<{ job_id: string; reason: string }[]> {
    const bodies: { job_id: string; reason: string }[] = []
    for (;;) {
      const { Messages = [] } = await sqsClient.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300 }),
      )
      if (Messages.length === 0) return bodies
      bodies.push(...Messages.map((m) => JSON.parse(m.Body ?? '{}') as { job_id: string; reason: string }))
    }
  }

  it('lists the configured workflows with their parameter schemas, never their models', async () => {
    const response = await api.inject({ method: 'GET', url: '/api/image/v1/processing/workflows' }, as('owner-a'))
    expect(response.statusCode).toBe(200)
    const items = response.json<{ items: { id: string; parameters_schema: object }[] }>().items
    expect(items.map((w) => w.id)).toEqual(['hairstyle', 'restyle'])
    expect(response.body).not.toContain('fal-ai/')
    expect(items[0]?.parameters_schema).toMatchObject({ type: 'object', additionalProperties: false })
    // The workflow's defaults, as JSON Schema `default` annotations a form can prefill.
    expect(items[0]?.parameters_schema).toMatchObject({
      properties: { target_hairstyle: { type: 'string', default: 'long_hair' }, hair_color: { default: 'natural' } },
    })
  })

  it('starts a job: 202 queued, with its event and audit row, and a message on the jobs queue', async () => {
    await drainQueue()
    const imageId = await image('owner-a')
    const response = await start({ image_id: imageId, workflow_id: 'hairstyle', parameters: { hair_color: 'red' } })
    expect(response.statusCode).toBe(202)
    const job = response.json<{ job_id: string; status: string; attempts: number; result_image_ids: string[]; error: null }>()
    expect(job).toMatchObject({ status: 'queued', attempts: 0, result_image_ids: [], error: null, image_id: imageId })
    const events = await api.database.sql`SELECT type, data FROM events WHERE subject_id = ${job.job_id}`
    expect(events.map((e) => e.type)).toEqual(['job.queued'])
    const audit = await api.database.sql`SELECT action, image_id FROM audit_events WHERE detail->>'job_id' = ${job.job_id}`
    expect(audit).toEqual([{ action: 'job.started', image_id: imageId }])
    expect(await drainQueue()).toEqual([{ type: 'job', job_id: job.job_id, reason: 'start' }])
    // The stored input is the workflow's defaults under the caller's parameters.
    expect((await jobs.findById(job.job_id as JobId))?.input).toEqual({ target_hairstyle: 'long_hair', hair_color: 'red' })

    const status = await api.inject({ method: 'GET', url: `/api/image/v1/processing/${job.job_id}/status` }, as('owner-a'))
    expect(status.json()).toEqual(job)
    const list = await api.inject({ method: 'GET', url: `/api/image/v1/processing/jobs?image_id=${imageId}` }, as('owner-a'))
    expect(list.json()).toEqual({ items: [job], next_cursor: null })
  })

  it('answers 404 for an unknown workflow, and 400 INVALID_PARAMETERS naming every problem', async () => {
    const imageId = await image('owner-b')
    const unknown = await start({ image_id: imageId, workflow_id: 'teleport' }, 'owner-b')
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toMatchObject({ code: 'WORKFLOW_NOT_FOUND' })
    const invalid = await start(
      { image_id: imageId, workflow_id: 'hairstyle', parameters: { hair_color: 'plaid', image_url: 'http://169.254.169.254/', extra: 1 } },
      'owner-b',
    )
    expect(invalid.statusCode).toBe(400)
    const body = invalid.json<{ code: string; message: string }>()
    expect(body.code).toBe('INVALID_PARAMETERS')
    expect(body.message).toContain('parameters.hair_color must be one of')
    expect(body.message).toContain('unknown field image_url')
    expect(body.message).toContain('unknown field extra')
    const missing = await start({ image_id: imageId, workflow_id: 'restyle', parameters: {} }, 'owner-b')
    expect(missing.json()).toMatchObject({ statusCode: 400, code: 'INVALID_PARAMETERS' })
    // A client never names a model.
    const model = await start({ image_id: imageId, workflow_id: 'hairstyle', model: 'fal-ai/anything' }, 'owner-b')
    expect(model.statusCode).toBe(400)
    expect(await jobs.list({ ownerId: 'owner-b', limit: 10 })).toEqual([])
  })

  it("answers 404 for another owner's image (like a missing one) and 409 IMAGE_NOT_READY for a pending one", async () => {
    const others = await image('owner-c')
    const theirs = await start({ image_id: others, workflow_id: 'hairstyle' }, 'owner-d')
    expect(theirs.statusCode).toBe(404)
    expect(theirs.json()).toMatchObject({ code: 'IMAGE_NOT_FOUND' })
    const nowhere = await start({ image_id: newImageId(), workflow_id: 'hairstyle' }, 'owner-d')
    expect(nowhere.json()).toMatchObject({ statusCode: 404, code: 'IMAGE_NOT_FOUND' })
    const pending = await image('owner-d', false)
    const notReady = await start({ image_id: pending, workflow_id: 'hairstyle' }, 'owner-d')
    expect(notReady.statusCode).toBe(409)
    expect(notReady.json()).toMatchObject({ code: 'IMAGE_NOT_READY' })
    // Another owner's job is a 404 on every route.
    const mine = (await start({ image_id: others, workflow_id: 'hairstyle' }, 'owner-c')).json<{ job_id: string }>()
    for (const request of [
      { method: 'GET' as const, url: `/api/image/v1/processing/${mine.job_id}/status` },
      { method: 'POST' as const, url: `/api/image/v1/processing/${mine.job_id}/cancel` },
    ]) {
      const response = await api.inject(request, as('owner-d'))
      expect(response.statusCode).toBe(404)
      expect(response.json()).toMatchObject({ code: 'JOB_NOT_FOUND' })
    }
    expect((await jobs.findById(mine.job_id as JobId))?.status).toBe('queued')
  })

  it('returns the same job for a retried start with the same Idempotency-Key, and refuses the key for another request', async () => {
    const imageId = await image('owner-e')
    const body = { image_id: imageId, workflow_id: 'restyle', parameters: { prompt: 'oil painting' } }
    const first = await start(body, 'owner-e', { 'idempotency-key': 'retry-1' })
    const again = await start(body, 'owner-e', { 'idempotency-key': 'retry-1' })
    expect(first.statusCode).toBe(202)
    expect(again.statusCode).toBe(202)
    expect(again.json()).toEqual(first.json())
    expect(await jobs.list({ ownerId: 'owner-e', limit: 10 })).toHaveLength(1)
    const other = await start({ ...body, parameters: { prompt: 'charcoal' } }, 'owner-e', { 'idempotency-key': 'retry-1' })
    expect(other.statusCode).toBe(409)
    expect(other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' })
  })

  it('caps queued and running jobs per owner (JOB_MAX_CONCURRENT_PER_OWNER): 429 TOO_MANY_JOBS', async () => {
    const imageId = await image('owner-f')
    for (let i = 0; i < 3; i++) expect((await start({ image_id: imageId, workflow_id: 'hairstyle' }, 'owner-f')).statusCode).toBe(202)
    const over = await start({ image_id: imageId, workflow_id: 'hairstyle' }, 'owner-f')
    expect(over.statusCode).toBe(429)
    expect(over.json()).toMatchObject({ code: 'TOO_MANY_JOBS' })
    // A finished job frees its place.
    const [latest] = await jobs.list({ ownerId: 'owner-f', limit: 1 })
    await api.inject({ method: 'POST', url: `/api/image/v1/processing/${latest?.id}/cancel` }, as('owner-f'))
    expect((await start({ image_id: imageId, workflow_id: 'hairstyle' }, 'owner-f')).statusCode).toBe(202)
  })

  it('counts starts in the issuance rate limit (RATE_LIMIT_ISSUANCE_PER_MINUTE)', async () => {
    const limited = await api.variant(
      { JOBS_QUEUE_URL: queueUrl, SQS_ENDPOINT: sqs.endpoint, RATE_LIMIT_ISSUANCE_PER_MINUTE: '2', JOB_MAX_CONCURRENT_PER_OWNER: '10' },
      { s3Credentials: api.s3Credentials, sqsCredentials: { accessKeyId: sqs.accessKeyId, secretAccessKey: sqs.secretAccessKey } },
    )
    const imageId = await image('owner-g')
    const send = () =>
      api.inject(
        { method: 'POST', url: '/api/image/v1/processing/start', payload: { image_id: imageId, workflow_id: 'hairstyle' } },
        {
          app: limited,
          owner: 'owner-g',
        },
      )
    expect((await send()).statusCode).toBe(202)
    expect((await send()).statusCode).toBe(202)
    const refused = await send()
    expect(refused.statusCode).toBe(429)
    expect(refused.json()).toMatchObject({ code: 'RATE_LIMITED' })
  })

  it('cancels a queued job at once, with its event and audit row; a final job answers 409', async () => {
    const imageId = await image('owner-h')
    const job = (await start({ image_id: imageId, workflow_id: 'hairstyle' }, 'owner-h')).json<{ job_id: string }>()
    const cancelled = await api.inject({ method: 'POST', url: `/api/image/v1/processing/${job.job_id}/cancel` }, as('owner-h'))
    expect(cancelled.statusCode).toBe(202)
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', completed_at: expect.any(String) })
    const events = await api.database.sql`SELECT type FROM events WHERE subject_id = ${job.job_id} ORDER BY id`
    expect(events.map((e) => e.type)).toEqual(['job.queued', 'job.cancelled'])
    const audit = await api.database.sql`SELECT action FROM audit_events WHERE detail->>'job_id' = ${job.job_id} ORDER BY id`
    expect(audit.map((a) => a.action)).toEqual(['job.started', 'job.cancelled'])
    const again = await api.inject({ method: 'POST', url: `/api/image/v1/processing/${job.job_id}/cancel` }, as('owner-h'))
    expect(again.statusCode).toBe(409)
    expect(again.json()).toMatchObject({ code: 'JOB_ALREADY_FINAL' })
  })

  describe("fal's webhook", () => {
    const post = (body: string, headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/api/image/v1/processing/webhooks/fal',
        payload: body,
        headers: { 'content-type': 'application/json', ...headers },
      })

    async function runningJob(): Promise<{ jobId: JobId; requestId: string }> {
      const imageId = await image('owner-w')
      const job = (await start({ image_id: imageId, workflow_id: 'hairstyle' }, 'owner-w')).json<{ job_id: JobId }>()
      const requestId = crypto.randomUUID()
      await jobs.move(job.job_id, 'queued', { to: 'running', providerRequestId: requestId })
      await drainQueue()
      return { jobId: job.job_id, requestId }
    }
    const bodyOf = (requestId: string) =>
      JSON.stringify({ request_id: requestId, gateway_request_id: requestId, status: 'OK', payload: { images: [] } })

    it('takes a signed webhook once: handed to the jobs queue, and a replay of its request_id is ignored', async () => {
      const { jobId, requestId } = await runningJob()
      const body = bodyOf(requestId)
      const accepted = await post(body, fal.signWebhook(requestId, body))
      expect(accepted.statusCode).toBe(200)
      expect(accepted.json()).toEqual({ status: 'accepted' })
      expect(await drainQueue()).toEqual([{ type: 'job', job_id: jobId, reason: 'webhook' }])
      // fal retries: the same request_id, even freshly signed, is handed on only once.
      const replayed = await post(body, fal.signWebhook(requestId, body))
      expect(replayed.json()).toEqual({ status: 'duplicate' })
      expect(await drainQueue()).toEqual([])
      expect((await jobs.findById(jobId))?.status).toBe('running')
    })

    it('keeps a webhook that comes before any job has its request id, for the runner to find once it stores the id', async () => {
      const requestId = crypto.randomUUID()
      const body = bodyOf(requestId)
      const early = await post(body, fal.signWebhook(requestId, body))
      expect(early.statusCode).toBe(200)
      expect(early.json()).toEqual({ status: 'ignored' })
      expect(await drainQueue()).toEqual([])
      expect(await jobs.webhookReceived(requestId)).toBe(true)
      expect(await jobs.webhookReceived(crypto.randomUUID())).toBe(false)
    })

    it('refuses a bad signature, a tampered body and an old timestamp with 401, and changes nothing', async () => {
      const { jobId, requestId } = await runningJob()
      const body = bodyOf(requestId)
      const signed = fal.signWebhook(requestId, body)
      const cases: [string, Record<string, string>][] = [
        [body, { ...signed, 'x-fal-webhook-signature': 'ab'.repeat(64) }],
        [body.replace('"OK"', '"ERROR"'), signed],
        [body, fal.signWebhook(requestId, body, Math.floor(Date.now() / 1000) - 301)],
        [body, { 'x-fal-webhook-request-id': requestId }],
      ]
      for (const [payload, headers] of cases) {
        const refused = await post(payload, headers)
        expect(refused.statusCode).toBe(401)
        expect(refused.json()).toMatchObject({ code: 'INVALID_SIGNATURE' })
      }
      expect(await drainQueue()).toEqual([])
      expect(await api.database.sql`SELECT 1 FROM fal_webhook_deliveries WHERE request_id = ${requestId}`).toHaveLength(0)
      expect((await jobs.findById(jobId))?.status).toBe('running')
      // The genuine one still gets through afterwards.
      expect((await post(body, fal.signWebhook(requestId, body))).json()).toEqual({ status: 'accepted' })
    })

    it('acknowledges and ignores a signed webhook for a request that is not ours', async () => {
      await drainQueue()
      const requestId = crypto.randomUUID()
      const body = bodyOf(requestId)
      const response = await post(body, fal.signWebhook(requestId, body))
      expect(response.json()).toEqual({ status: 'ignored' })
      expect(await drainQueue()).toEqual([])
    })
  })
})
