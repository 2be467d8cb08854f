import { randomBytes } from 'node:crypto'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { SendMessageCommand } from '@aws-sdk/client-sqs'
import {
  type CdnInvalidator,
  createImageMultipartUpload,
  createMessageSpy,
  createPostgresMultipartUploads,
  createRequestOwnerErasure,
  createS3LifecycleStorage,
  createS3MultipartStorage,
  createSqsSender,
  createSweeper,
  erasureProgress,
  type ImageId,
  type LifecycleStorage,
  newImageId,
  objectKeyFor,
  type SweepConfig,
  userContext,
  ValidateImageMessage,
} from '@image-service/foundation'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { createProcessorContainer } from './container.ts'
import {
  corpusFile,
  createQueueWithBridge,
  credentialsOf,
  processorConfig,
  silentLog,
  type Stack,
  startStack,
  upload,
} from './testing/harness.ts'

const MINUTE = 60_000
const DAY = 86_400_000

let stack: Stack
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  stack = await startStack(inject('databaseServerUrl'))
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  await stack?.stop()
})

const config: SweepConfig = {
  sweepIntervalSeconds: 60,
  batchSize: 100,
  graceSeconds: 300,
  recordRetentionDays: 30,
  imageRetentionDays: undefined,
  auditRetentionDays: 365,
  eventRetentionDays: 30,
  uploadUrlTtlSeconds: 300,
}

/** Invalidations the sweeper asked for. */
class RecordingCdn implements CdnInvalidator {
  readonly paths: string[] = []
  async invalidate(paths: readonly string[]) {
    this.paths.push(...paths)
  }
}

/** The processor's S3 adapter, on the emulator. */
const s3Storage = () => createS3LifecycleStorage({ client: stack.s3Client, bucket: stack.bucket })

/** A sweeper on the stack's real parts, whose clock is `later` ahead of now. */
async function sweeperAt(later: number, options: { storage?: LifecycleStorage; cdn?: CdnInvalidator; config?: Partial<SweepConfig> } = {}) {
  const q = await createQueueWithBridge(stack, { maxReceiveCount: 3, visibilityTimeoutSeconds: 5 })
  cleanups.push(() => q.bridge.stop())
  const sweeper = createSweeper({
    sql: stack.db.sql,
    images: stack.images,
    storage: options.storage ?? s3Storage(),
    queue: createSqsSender({ sqs: stack.sqsClient, queueUrl: q.queueUrl, schema: ValidateImageMessage }),
    cdn: options.cdn ?? new RecordingCdn(),
    config: { ...config, ...options.config },
    log: silentLog,
    now: () => new Date(Date.now() + later),
  })
  return { sweeper, queueUrl: q.queueUrl }
}

const owner = () => `owner-${randomBytes(4).toString('hex')}`

async function pending(ownerId: string, reservedBytes = 1000): Promise<ImageId> {
  const id = newImageId()
  await stack.images.saveWithinQuota(
    { id, ownerId, contentType: 'image/png', fileName: 'p.png', objectKey: objectKeyFor(id), reservedBytes },
    { maxImages: 1_000_000, maxBytes: 1e15 },
  )
  return id
}

const statusOf = async (id: ImageId) => {
  const record = await stack.images.findById(id)
  return record === null ? null : { status: record.status, reason: record.failureReason }
}
const eventsOf = async (id: ImageId) =>
  (await stack.db.sql<{ type: string }[]>`SELECT type FROM events WHERE subject_id = ${id} ORDER BY id`).map((e) => e.type)
const exists = (key: string) => s3Storage().objectExists(key)
/** Every key under a prefix, by a real ListObjectsV2 (page by page). */
async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = []
  let token: string | undefined
  do {
    const page = await stack.s3Client.send(
      new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: prefix, MaxKeys: 2, ContinuationToken: token }),
    )
    keys.push(...(page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key])))
    token = page.NextContinuationToken
  } while (token !== undefined)
  return keys.sort()
}
/** An object stored at any key, through a presigned PUT as a client would. */
async function put(key: string): Promise<void> {
  const presigned = await stack.uploads.generatePresignedUploadUrl({ objectKey: key, contentType: 'image/webp', expiresInSeconds: 60 })
  const response = await fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: new Uint8Array([1, 2, 3]) })
  if (!response.ok) throw new Error(`PUT ${key} answered ${response.status}`)
}

describe('sweeper: pending uploads', () => {
  it('expires a pending upload with no object past its URL expiry plus grace, releasing its quota reservation', async () => {
    const ownerId = owner()
    const expired = await pending(ownerId, 4000)
    const before = await stack.images.usageOf(ownerId)
    expect(before).toEqual({ images: 1, bytes: 0, reservedBytes: 4000 })

    // Within URL lifetime + grace nothing happens.
    const early = await (await sweeperAt(4 * MINUTE)).sweeper.sweepOnce()
    expect(early.swept && early.report.expired).toBe(0)
    expect(await statusOf(expired)).toEqual({ status: 'pending', reason: null })

    const late = await (await sweeperAt(11 * MINUTE)).sweeper.sweepOnce()
    expect(late.swept && late.report.expired).toBe(1)
    expect(await statusOf(expired)).toEqual({ status: 'failed', reason: 'expired' })
    expect(await stack.images.usageOf(ownerId)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
    expect(await eventsOf(expired)).toEqual(['image.pending', 'image.failed'])
  })

  it('works in bounded batches: SWEEP_BATCH_SIZE records per sweep', async () => {
    const ownerId = owner()
    const ids = await Promise.all(Array.from({ length: 5 }, () => pending(ownerId)))
    const { sweeper } = await sweeperAt(11 * MINUTE, { config: { batchSize: 2 } })
    const counts: number[] = []
    for (let i = 0; i < 4; i++) {
      const result = await sweeper.sweepOnce()
      // Other tests' pending records may be in the batch too; this owner's are counted.
      counts.push(result.swept ? result.report.expired : -1)
    }
    for (const id of ids) expect((await statusOf(id))?.status).toBe('failed')
    expect(counts.every((n) => n <= 2)).toBe(true)
  })

  it('re-queues a pending upload whose event was dropped (bridge stopped), and the record becomes ready', async () => {
    const q = await createQueueWithBridge(stack, { maxReceiveCount: 3, visibilityTimeoutSeconds: 5 })
    // The event is dropped: nothing carries the upload's ObjectCreated to the queue.
    await q.bridge.stop()
    const spy = createMessageSpy()
    const container = createProcessorContainer(processorConfig(stack, q.queueUrl), silentLog, {
      ...credentialsOf(stack),
      timings: { retryVisibilitySeconds: () => 0, receiveBackoffMs: () => 50 },
      onMessageProcessed: spy.listener,
      now: () => new Date(Date.now() + 6 * MINUTE),
    })
    const running = container.worker.run()
    cleanups.push(async () => {
      await container.close()
      await running
    })
    const id = await upload(stack, 'image/png', corpusFile('valid-png-rgb-1024x768.png'))
    expect(await statusOf(id)).toEqual({ status: 'pending', reason: null })

    const result = await container.sweeper.sweepOnce()
    expect(result.swept && result.report.requeued).toBeGreaterThanOrEqual(1)
    await spy.waitForMessage((m) => m.subjects.some((s) => s.id === id && s.outcome === 'ready'), 'ack')
    expect(await statusOf(id)).toEqual({ status: 'ready', reason: null })
    expect(await eventsOf(id)).toEqual(['image.pending', 'image.ready'])
  })
})

describe('sweeper: deciding once', () => {
  it('a validate message (confirm) racing the storage event: the record is decided once', async () => {
    const q = await createQueueWithBridge(stack, { maxReceiveCount: 3, visibilityTimeoutSeconds: 5 })
    cleanups.push(() => q.bridge.stop())
    const spy = createMessageSpy()
    const container = createProcessorContainer(processorConfig(stack, q.queueUrl, { PROCESSOR_CONCURRENCY: '4' }), silentLog, {
      ...credentialsOf(stack),
      timings: { retryVisibilitySeconds: () => 0, receiveBackoffMs: () => 50 },
      onMessageProcessed: spy.listener,
    })
    const running = container.worker.run()
    cleanups.push(async () => {
      await container.close()
      await running
    })
    const ids = await Promise.all(Array.from({ length: 4 }, () => upload(stack, 'image/png', corpusFile('valid-png-rgb-1024x768.png'))))
    // What upload/confirm sends, at the same moment as the bridge's event.
    await Promise.all(
      ids.map((id) =>
        stack.sqsClient.send(
          new SendMessageCommand({ QueueUrl: q.queueUrl, MessageBody: JSON.stringify({ type: 'validate', image_id: id }) }),
        ),
      ),
    )
    for (const id of ids) {
      // Both messages are handled: one decides, the other finds the record final.
      await spy.waitForMessage((m) => m.subjects.some((s) => s.id === id && s.outcome === 'ready'), 'ack')
      await spy.waitForMessage((m) => m.subjects.some((s) => s.id === id && s.outcome === 'skipped'), 'ack')
      expect(await eventsOf(id)).toEqual(['image.pending', 'image.ready'])
    }
  })

  it('two sweepers racing: one holds the lock, the other skips; each record is decided once', async () => {
    const ownerId = owner()
    const id = await pending(ownerId)
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let entered: () => void = () => {}
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    const real = s3Storage()
    // The first sweeper stops inside its sweep, holding the lock, until released.
    const held: LifecycleStorage = {
      ...real,
      async objectExists(key) {
        entered()
        await gate
        return real.objectExists(key)
      },
    }
    const first = (await sweeperAt(11 * MINUTE, { storage: held })).sweeper
    const second = (await sweeperAt(11 * MINUTE)).sweeper
    const sweeping = first.sweepOnce()
    await inside
    expect(await second.sweepOnce()).toEqual({ swept: false, reason: 'locked' })
    release()
    const done = await sweeping
    expect(done.swept).toBe(true)
    // Now free: the second sweeps, and finds the record already decided.
    const after = await second.sweepOnce()
    expect(after.swept).toBe(true)
    expect(await statusOf(id)).toEqual({ status: 'failed', reason: 'expired' })
    expect(await eventsOf(id)).toEqual(['image.pending', 'image.failed'])
  })
})

describe('sweeper: multipart, objects, retention, erasure', () => {
  it('aborts a multipart upload past its expiry at storage, fails the record `aborted` and releases the reservation', async () => {
    const ownerId = owner()
    const multipartStorage = createS3MultipartStorage({ client: stack.s3Client, bucket: stack.bucket })
    const create = createImageMultipartUpload({
      images: stack.images,
      storage: multipartStorage,
      uploads: createPostgresMultipartUploads(stack.db.sql),
      newId: newImageId,
      config: { multipartUrlTtlSeconds: 3600 },
      quota: { maxImages: 100, maxBytes: 1e12 },
      maxUploadBytes: 100 * 1024 * 1024,
    })
    const created = await create(userContext(ownerId), { contentType: 'image/png', fileName: 'a.png', sizeBytes: 12 * 1024 * 1024 })
    const [part] = created.parts
    expect((await fetch(part?.uploadUrl ?? '', { method: 'PUT', body: new Uint8Array(5 * 1024 * 1024) })).status).toBe(200)

    // Not yet: the part URLs are valid for an hour.
    const early = await (await sweeperAt(30 * MINUTE)).sweeper.sweepOnce()
    expect(early.swept && early.report.multipartAborted).toBe(0)
    const late = await (await sweeperAt(66 * MINUTE)).sweeper.sweepOnce()
    expect(late.swept && late.report.multipartAborted).toBeGreaterThanOrEqual(1)
    expect(await statusOf(created.imageId)).toEqual({ status: 'failed', reason: 'aborted' })
    expect(await stack.images.usageOf(ownerId)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
    // Gone at storage: ListParts answers NoSuchUpload.
    expect(await multipartStorage.listParts({ objectKey: objectKeyFor(created.imageId), uploadId: created.uploadId })).toBeNull()
  })

  it("confirms a deleted record's objects gone, the upload and every object under variants/{id}/, and invalidates them", async () => {
    const ownerId = owner()
    const id = await pending(ownerId)
    const other = await pending(ownerId)
    await stack.images.transitionFromPending(other, { status: 'ready', sizeBytes: 3, etag: '"e"' })
    await put(objectKeyFor(id))
    for (const name of ['thumbnail.webp', 'medium.avif', 'large.jpeg']) await put(`variants/${id}/${name}`)
    await put(`variants/${other}/thumbnail.webp`)
    await put(`variants/${other}/medium.avif`)
    expect(await keysUnder(`variants/${id}/`)).toEqual([
      `variants/${id}/large.jpeg`,
      `variants/${id}/medium.avif`,
      `variants/${id}/thumbnail.webp`,
    ])
    await stack.images.markDeleted(id)
    const cdn = new RecordingCdn()
    const result = await (await sweeperAt(11 * MINUTE, { cdn })).sweeper.sweepOnce()
    expect(result.swept && result.report.variantObjectsRemoved).toBeGreaterThanOrEqual(3)
    expect(await exists(objectKeyFor(id))).toBe(false)
    // Nothing is left under the deleted image's prefix, by a real listing.
    expect(await keysUnder(`variants/${id}/`)).toEqual([])
    // A ready image's variants stay.
    expect(await keysUnder(`variants/${other}/`)).toEqual([`variants/${other}/medium.avif`, `variants/${other}/thumbnail.webp`])
    expect(cdn.paths).toEqual(expect.arrayContaining([`/uploads/${id}`, `/variants/${id}/*`]))
    const [row] = await stack.db.sql<
      { removed: boolean }[]
    >`SELECT objects_removed_at IS NOT NULL AS removed FROM image_records WHERE id = ${id}`
    expect(row?.removed).toBe(true)
  })

  it('retention: purges finished records, ready images past IMAGE_RETENTION_DAYS, old audit rows and events', async () => {
    const ownerId = owner()
    const failed = await pending(ownerId)
    await stack.images.transitionFromPending(failed, { status: 'failed', failureReason: 'corrupt' })
    const ready = await pending(ownerId)
    await stack.images.transitionFromPending(ready, { status: 'ready', sizeBytes: 10, etag: '"e"' })
    const { sweeper } = await sweeperAt(40 * DAY, { config: { imageRetentionDays: 35 } })
    // First sweep: the ready image is retired (deleted), objects confirmed gone, events and
    // audit rows older than their retention purged.
    const first = await sweeper.sweepOnce()
    expect(first.swept && first.report.imagesRetired).toBeGreaterThanOrEqual(1)
    expect(first.swept && first.report.eventsPurged).toBeGreaterThanOrEqual(3)
    expect(await statusOf(ready)).toMatchObject({ status: 'deleted' })
    // Then the records go once their objects are confirmed gone (this sweep's clock is 40 days on).
    const second = await sweeper.sweepOnce()
    expect(second.swept && second.report.recordsPurged).toBeGreaterThanOrEqual(1)
    const third = await sweeper.sweepOnce()
    expect(third.swept).toBe(true)
    expect(await statusOf(failed)).toBeNull()
    expect(await statusOf(ready)).toBeNull()
    const [{ count = -1 } = {}] = await stack.db.sql<{ count: number }[]>`
      SELECT count(*)::int AS count FROM events WHERE subject_id IN (${failed}, ${ready})`
    // The retire's own event is new (40 days after the others is now, for the sweeper).
    expect(count).toBeLessThanOrEqual(1)
  })

  it('retention: fal webhook records go a day after they came (fal retries for 2 hours); newer ones stay', async () => {
    const [old, fresh] = [`fal-old-${owner()}`, `fal-fresh-${owner()}`]
    await stack.db.sql`
      INSERT INTO fal_webhook_deliveries (request_id, job_id, received_at)
      VALUES (${old}, NULL, now()), (${fresh}, NULL, now() + interval '2 days')`
    const { sweeper } = await sweeperAt(DAY + MINUTE)
    const result = await sweeper.sweepOnce()
    expect(result.swept && result.report.falWebhooksPurged).toBeGreaterThanOrEqual(1)
    const left = await stack.db.sql<{ request_id: string }[]>`
      SELECT request_id FROM fal_webhook_deliveries WHERE request_id IN (${old}, ${fresh})`
    expect(left).toEqual([{ request_id: fresh }])
  })

  it('retention: webhook attempts and finished deliveries go with the events; a pending delivery stays', async () => {
    const base = 9_000_000_000 + Math.floor(Math.random() * 1_000_000)
    const [done, dead, waiting] = [base, base + 1, base + 2]
    await stack.db.sql`
      INSERT INTO webhook_deliveries (event_id, event_xid, subject_id, status, attempts, finished_at)
      VALUES (${done}, '1', 'subject-r', 'delivered', 1, now()), (${dead}, '1', 'subject-r', 'dead', 3, now()),
             (${waiting}, '1', 'subject-r', 'pending', 2, NULL)`
    await stack.db.sql`
      INSERT INTO webhook_attempts (event_id, attempt, status_code, duration_ms)
      VALUES (${done}, 1, 200, 5), (${dead}, 1, 500, 5), (${dead}, 2, 500, 5), (${dead}, 3, 500, 5)`
    const { sweeper } = await sweeperAt(40 * DAY)
    const result = await sweeper.sweepOnce()
    expect(result.swept && result.report.webhookDeliveriesPurged).toBeGreaterThanOrEqual(2)
    expect(result.swept && result.report.webhookAttemptsPurged).toBeGreaterThanOrEqual(4)
    const left = await stack.db.sql<{ event_id: string; status: string }[]>`
      SELECT event_id::text, status FROM webhook_deliveries WHERE event_id IN (${done}, ${dead}, ${waiting})`
    expect(left).toEqual([{ event_id: String(waiting), status: 'pending' }])
    const [{ attempts = -1 } = {}] = await stack.db.sql<{ attempts: number }[]>`
      SELECT count(*)::int AS attempts FROM webhook_attempts WHERE event_id IN (${done}, ${dead})`
    expect(attempts).toBe(0)
  })

  it('owner erasure: every image and API key of the owner goes in batches, usage shows it, other owners are untouched', async () => {
    const erased = owner()
    const kept = owner()
    const ids = await Promise.all([pending(erased), pending(erased), pending(erased)])
    await stack.images.transitionFromPending(ids[0] as ImageId, { status: 'ready', sizeBytes: 10, etag: '"e"' })
    await put(objectKeyFor(ids[0] as ImageId))
    const keep = await pending(kept)
    await stack.db.sql`
      INSERT INTO api_keys (id, owner_id, name, prefix, key_hash) VALUES (${newImageId()}, ${erased}, 'k', 'isk_x', ${randomBytes(32)})`

    const progress = await createRequestOwnerErasure({ sql: stack.db.sql })(userContext(erased))
    expect(progress).toMatchObject({ status: 'running', imagesErased: 0, recordsRemaining: 3 })
    const { sweeper } = await sweeperAt(11 * MINUTE, { config: { batchSize: 2 } })
    for (let i = 0; i < 4 && (await erasureProgress(stack.db.sql, erased))?.status !== 'completed'; i++) await sweeper.sweepOnce()
    expect(await erasureProgress(stack.db.sql, erased)).toMatchObject({
      status: 'completed',
      imagesErased: 3,
      apiKeysErased: 1,
      recordsRemaining: 0,
    })
    expect(await exists(objectKeyFor(ids[0] as ImageId))).toBe(false)
    const [{ keys = -1 } = {}] = await stack.db.sql<
      { keys: number }[]
    >`SELECT count(*)::int AS keys FROM api_keys WHERE owner_id = ${erased}`
    expect(keys).toBe(0)
    expect(await stack.images.usageOf(erased)).toEqual({ images: 0, bytes: 0, reservedBytes: 0 })
    expect(await statusOf(keep)).toMatchObject({ status: expect.stringMatching(/pending|failed/) })
  })
})
