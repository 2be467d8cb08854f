import { createServer, type Server } from 'node:http'
import { Writable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { createTestDatabase, findFreePort, type TestDatabase } from '@image-service/devstack'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createLogger } from '../../../common/logger.ts'
import { createDatabase, type Database } from '../../../shared/database/database.ts'
import { createPostgresEventLog } from '../postgres-event-log.ts'
import { LOG_START } from '../event.ts'
import { createPostgresWebhookOutbox } from './postgres-webhook-outbox.ts'
import { createWebhookRelay } from './webhook-relay.ts'

let testDatabase: TestDatabase
let database: Database

beforeAll(async () => {
  testDatabase = await createTestDatabase(inject('databaseServerUrl'))
  database = createDatabase({ url: testDatabase.url, poolMax: 4 })
})
afterAll(async () => {
  await database.close()
  await testDatabase.drop()
})

type Received = { headers: Record<string, string>; body: string }

/** A webhook receiver on a fixed port, answering `status()` to every POST, keeping what it got. */
function receiver(port: number, status: () => number) {
  const received: Received[] = []
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      received.push({ headers: request.headers as Record<string, string>, body: Buffer.concat(chunks).toString() })
      response.writeHead(status()).end()
    })
  })
  return {
    received,
    listen: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

const append = (ownerId: string, subjectId: string, type: string) =>
  database.sql`INSERT INTO events (type, subject_id, owner_id, data) VALUES (${type}, ${subjectId}, ${ownerId}, ${JSON.stringify({ n: type })}::jsonb)`

function capturedLogger() {
  const lines: string[] = []
  const log = createLogger(
    { level: 'trace' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString())
        done()
      },
    }),
  )
  return { lines, log }
}

const attemptsOf = async () =>
  database.sql<{ event_id: string; attempt: number; status_code: number | null; error: string | null }[]>`
    SELECT event_id::text, attempt, status_code, error FROM webhook_attempts ORDER BY id`

describe('webhook relay', () => {
  it('a receiver that is down for a while gets every event later, each signed, in order per subject, with the same webhook-id on every try', async () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`
    const port = await findFreePort()
    const { lines, log } = capturedLogger()
    const relay = createWebhookRelay({
      outbox: createPostgresWebhookOutbox(database.db, { name: 'spec-down' }),
      config: {
        url: `http://127.0.0.1:${port}/hooks`,
        secret,
        retrySchedule: [0.05, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2],
        timeoutSeconds: 2,
        concurrency: 4,
        pollIntervalMs: 20,
      },
      log,
    })
    // The relay starts at the head of the log; these come after it.
    const running = relay.run()
    await expect.poll(async () => (await database.sql`SELECT 1 FROM webhook_relay WHERE name = 'spec-down'`).length).toBe(1)
    const expected: Record<string, string[]> = { 'subject-a': [], 'subject-b': [] }
    for (const [subject, type] of [
      ['subject-a', 'image.pending'],
      ['subject-b', 'job.queued'],
      ['subject-a', 'image.ready'],
      ['subject-b', 'job.running'],
      ['subject-a', 'image.deleted'],
      ['subject-b', 'job.succeeded'],
    ] as const) {
      await append('hook-owner', subject, type)
      expected[subject]!.push(type)
    }
    // Nobody listens on the port: tries fail (connection refused) and are recorded.
    await expect.poll(async () => (await attemptsOf()).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(4)

    // The receiver comes up, at first answering 503 to two tries, then taking them.
    let answered = 0
    const up = receiver(port, () => (++answered <= 2 ? 503 : 204))
    await up.listen()
    try {
      const delivered = () => up.received.slice(2)
      await expect.poll(() => delivered().length, { timeout: 15_000 }).toBe(6)
      await relay.stop()
      await running

      const verifier = new Webhook(secret)
      const perSubject: Record<string, string[]> = { 'subject-a': [], 'subject-b': [] }
      for (const message of up.received) {
        const payload = verifier.verify(message.body, message.headers) as {
          type: string
          data: { id: string; subject_id: string; owner_id: string }
        }
        expect(message.headers['webhook-id']).toBe(payload.data.id)
        expect(payload.data.owner_id).toBe('hook-owner')
      }
      for (const message of delivered()) {
        const payload = JSON.parse(message.body) as { type: string; data: { subject_id: string } }
        perSubject[payload.data.subject_id]!.push(payload.type)
      }
      expect(perSubject).toEqual(expected)
      expect(new Set(delivered().map((m) => m.headers['webhook-id'])).size).toBe(6)

      // Every try is recorded: the refused ones, the two 503s, one success per event; a retried
      // event kept its webhook-id (each 503'd one was delivered later under the same id).
      const attempts = await attemptsOf()
      expect(attempts.filter((a) => a.status_code === null && a.error !== null).length).toBeGreaterThanOrEqual(4)
      expect(attempts.filter((a) => a.status_code === 503)).toHaveLength(2)
      expect(attempts.filter((a) => a.status_code === 204)).toHaveLength(6)
      const refusedIds = up.received.slice(0, 2).map((m) => m.headers['webhook-id'])
      for (const id of refusedIds) expect(delivered().map((m) => m.headers['webhook-id'])).toContain(id)
      const statuses = await database.sql<{ status: string }[]>`SELECT DISTINCT status FROM webhook_deliveries`
      expect(statuses.map((s) => s.status)).toEqual(['delivered'])
      // The secret never reaches a log (nor its key part).
      const written = lines.join('')
      expect(lines.some((line) => line.includes('will retry'))).toBe(true)
      expect(written).not.toContain(secret)
      expect(written).not.toContain(secret.slice('whsec_'.length))
    } finally {
      await relay.stop()
      await up.close()
    }
  })

  it('gives a delivery up when the schedule runs out, and later events of the subject still go; finished rows can be swept', async () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`
    const port = await findFreePort()
    const up = receiver(port, () => 204)
    await up.listen()
    let failing = true
    const { log } = capturedLogger()
    const failingFetch: typeof fetch = async (input, init) => (failing ? new Response(null, { status: 500 }) : fetch(input, init))
    const relay = createWebhookRelay({
      outbox: createPostgresWebhookOutbox(database.db, { name: 'spec-dead' }),
      config: { url: `http://127.0.0.1:${port}/`, secret, retrySchedule: [0.01], timeoutSeconds: 2, concurrency: 2, pollIntervalMs: 20 },
      log,
      fetch: failingFetch,
    })
    await database.sql`DELETE FROM webhook_deliveries`
    await database.sql`DELETE FROM webhook_attempts`
    const running = relay.run()
    await expect.poll(async () => (await database.sql`SELECT 1 FROM webhook_relay WHERE name = 'spec-dead'`).length).toBe(1)
    await append('hook-dead', 'subject-dead', 'image.pending')
    await expect
      .poll(async () => (await database.sql<{ status: string }[]>`SELECT status FROM webhook_deliveries`).map((r) => r.status), {
        timeout: 10_000,
      })
      .toEqual(['dead'])
    expect((await attemptsOf()).map((a) => a.status_code)).toEqual([500, 500])
    failing = false
    await append('hook-dead', 'subject-dead', 'image.ready')
    await expect.poll(() => up.received.length, { timeout: 10_000 }).toBe(1)
    expect(JSON.parse(up.received[0]!.body)).toMatchObject({ type: 'image.ready' })
    await relay.stop()
    await running
    await up.close()

    // Relays of other names were not disturbed by this one's position.
    expect((await createPostgresEventLog(database.db).listAfter({ ownerId: 'hook-dead', after: LOG_START, limit: 10 })).length).toBe(2)
  })
})
