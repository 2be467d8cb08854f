import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { createLogger, type Logger } from '@image-service/foundation'
import { Value } from '@sinclair/typebox/value'
import '../testing/formats.ts'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { buildApp, type ApiApp } from '../app.ts'
import { createApiContainer } from '../container.ts'
import { openEventStream } from '../testing/sse-client.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'
import { EventListResponse, EventResponse } from './events.ts'

/** An api of its own (closed by the test), listening on a free port: its stream URL. */
async function listening(config: TestApi['config'], logger: Logger, s3Credentials: TestApi['s3Credentials']) {
  const container = createApiContainer(config, logger, { s3Credentials })
  const app = await buildApp({ container, config, logger })
  app.addHook('onClose', async () => container.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/image/v1/events/stream` }
}

describe('events: GET /events and the SSE stream', () => {
  let api: TestApi
  let base: string

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-events')
    await api.app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    // fetch's pool may hold a socket that never carried a request, which close() waits for;
    // every stream of this server is over by now (each test closes its own).
    api?.app.server.closeAllConnections()
    await api?.close()
  })

  /** An issuance: its image.pending event is appended in the same statement. */
  const issue = async (owner: string): Promise<string> => {
    const response = await api.inject(
      { method: 'POST', url: '/api/image/v1/upload/create-presigned-url', payload: { content_type: 'image/png', file_name: 'a.png' } },
      owner,
    )
    expect(response.statusCode).toBe(201)
    return response.json<{ image_id: string }>().image_id
  }
  const list = async (owner: string, query = '') => {
    const response = await api.inject({ method: 'GET', url: `/api/image/v1/events${query}` }, owner)
    expect(response.statusCode).toBe(200)
    expect(Value.Check(EventListResponse, response.json())).toBe(true)
    return response.json<EventListResponse>()
  }
  const stream = async (owner: string, headers: Record<string, string> = {}) =>
    openEventStream(`${base}/api/image/v1/events/stream`, { authorization: `Bearer ${await api.token(owner)}`, ...headers })
  const parsed = (data: string) => {
    const event = JSON.parse(data) as EventResponse
    expect(Value.Check(EventResponse, event)).toBe(true)
    return event
  }

  it("pages the caller's events oldest first by keyset, and next_cursor lets a client tail the log", async () => {
    const owner = 'events-list'
    const ids = [await issue(owner), await issue(owner), await issue(owner)]
    await issue('events-list-other')

    const first = await list(owner, '?limit=2')
    expect(first.items.map((e) => [e.type, e.subject_id])).toEqual([
      ['image.pending', ids[0]],
      ['image.pending', ids[1]],
    ])
    expect(first.next_cursor).toBe(first.items[1]?.id)
    const second = await list(owner, `?after=${first.next_cursor}`)
    expect(second.items.map((e) => e.subject_id)).toEqual([ids[2]])
    // Caught up: an empty page gives the same cursor back, to ask again later.
    const third = await list(owner, `?after=${second.next_cursor}`)
    expect(third).toEqual({ items: [], next_cursor: second.next_cursor })
    const fourth = await issue(owner)
    expect((await list(owner, `?after=${third.next_cursor}`)).items.map((e) => e.subject_id)).toEqual([fourth])
  })

  it("never shows another owner's events, in the list or on the stream", async () => {
    const theirs = await issue('events-them')
    const mine = await list('events-me')
    expect(mine.items).toEqual([])
    const live = await stream('events-me')
    await issue('events-them')
    const own = await issue('events-me')
    const [message] = await live.waitForMessages(1)
    expect(parsed(message!.data).subject_id).toBe(own)
    expect(live.messages.map((m) => parsed(m.data).subject_id)).not.toContain(theirs)
    await live.close()
  })

  it("answers bad input with DESIGN's codes", async () => {
    const bad = async (query: string) => (await api.inject({ method: 'GET', url: `/api/image/v1/events${query}` }, 'events-bad')).json()
    expect(await bad('?after=nonsense')).toMatchObject({ statusCode: 400, code: 'INVALID_CURSOR' })
    expect(await bad('?after=1.2')).toMatchObject({ statusCode: 400, code: 'INVALID_CURSOR' })
    expect(await bad('?limit=0')).toMatchObject({ statusCode: 400, code: 'INVALID_LIMIT' })
    expect(await bad('?limit=101')).toMatchObject({ statusCode: 400, code: 'INVALID_LIMIT' })
    expect(await bad('?owner_id=someone')).toMatchObject({ statusCode: 400 })
    const anonymous = await api.app.inject({ method: 'GET', url: '/api/image/v1/events' })
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.json()).toMatchObject({ code: 'UNAUTHENTICATED' })
    const streamAnonymous = await fetch(`${base}/api/image/v1/events/stream`)
    expect(streamAnonymous.status).toBe(401)
    expect(await streamAnonymous.json()).toMatchObject({ code: 'UNAUTHENTICATED' })
    const badLastId = await fetch(`${base}/api/image/v1/events/stream`, {
      headers: { authorization: `Bearer ${await api.token('events-bad')}`, 'last-event-id': 'x' },
    })
    expect(badLastId.status).toBe(400)
    expect(await badLastId.json()).toMatchObject({ code: 'INVALID_CURSOR' })
  })

  it('after a disconnect at event 3, a reconnect with Last-Event-ID: 3 gets 4.. with no gap and no duplicate', async () => {
    const owner = 'events-resume'
    const first = await stream(owner)
    expect(first.status).toBe(200)
    expect(first.contentType).toBe('text/event-stream; charset=utf-8')
    const issued = [await issue(owner), await issue(owner), await issue(owner)]
    const three = await first.waitForMessages(3)
    expect(three.map((m) => parsed(m.data).subject_id)).toEqual(issued)
    for (const message of three) expect(message.id).toBe(parsed(message.data).id)
    await first.close()

    // Missed while away, and more while the replay runs.
    const missed = [await issue(owner), await issue(owner)]
    const second = await stream(owner, { 'last-event-id': three[2]!.id! })
    missed.push(await issue(owner))
    const rest = await second.waitForMessages(3)
    expect(rest.map((m) => parsed(m.data).subject_id)).toEqual(missed)
    const log = (await list(owner)).items
    expect(log.map((e) => e.subject_id)).toEqual([...issued, ...missed])
    expect([...three, ...rest].map((m) => m.id)).toEqual(log.map((e) => e.id))
    expect(new Set([...three, ...rest].map((m) => m.id)).size).toBe(6)
    await second.close()
  })

  it('sends heartbeats on an idle stream, and ends open streams when the api shuts down', async () => {
    const config = { ...api.config, api: { ...api.config.api, events: { ...api.config.api.events, heartbeatSeconds: 1 } } }
    const { app, url } = await listening(config, createLogger({ level: 'silent' }), api.s3Credentials)
    const live = await openEventStream(url, { authorization: `Bearer ${await api.token('events-idle')}` })
    await live.waitForComment('heartbeat')
    await app.close()
    await live.ended()
  })
})

describe('events: ?access_token= on the stream', () => {
  let api: TestApi
  let app: ApiApp
  let base: string
  const lines: string[] = []

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-events-token')
    // The api as main.ts wires it, with every log line (trace and up) kept for inspection.
    const logger = createLogger(
      { level: 'trace' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString())
          done()
        },
      }),
    )
    ;({ app, url: base } = await listening(api.config, logger, api.s3Credentials))
  })
  afterAll(async () => {
    await app?.close()
    await api?.close()
  })

  it('takes a short-lived JWT in the query, for EventSource, and the token never reaches a log', async () => {
    const token = await api.idp.token({ subject: 'events-query', expiresInSeconds: 300 })
    const live = await openEventStream(`${base}?access_token=${token}`)
    expect(live.status).toBe(200)
    const issued = await api.inject(
      { method: 'POST', url: '/api/image/v1/upload/create-presigned-url', payload: { content_type: 'image/png', file_name: 'q.png' } },
      'events-query',
    )
    const [message] = await live.waitForMessages(1)
    expect(JSON.parse(message!.data)).toMatchObject({ subject_id: issued.json<{ image_id: string }>().image_id })
    await live.close()
    // A refused one goes through the logs too (the authentication warning).
    const expired = await api.idp.token({ subject: 'events-query', expiresInSeconds: -120 })
    expect((await fetch(`${base}?access_token=${expired}`)).status).toBe(401)

    await expect.poll(() => lines.some((line) => line.includes('event stream closed') && line.includes('"events":1'))).toBe(true)
    expect(lines.some((line) => line.includes('authentication refused'))).toBe(true)
    const written = lines.join('')
    for (const secret of [token, expired, token.split('.')[2]!, expired.split('.')[2]!]) expect(written).not.toContain(secret)
    expect(written).not.toContain('access_token=')
  })

  it('refuses a long-lived JWT and any API key in the query', async () => {
    const longLived = await api.idp.token({ subject: 'events-query', expiresInSeconds: 3600 })
    const refused = await fetch(`${base}?access_token=${longLived}`)
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ code: 'UNAUTHENTICATED' })

    const created = await api.inject({ method: 'POST', url: '/api/image/v1/api-keys', payload: { name: 'stream' } }, 'events-query')
    const key = created.json<{ key: string }>().key
    expect((await fetch(`${base}?access_token=${key}`)).status).toBe(401)
    // The key itself is good: it works as a bearer header.
    const byHeader = await openEventStream(base, { authorization: `Bearer ${key}` })
    expect(byHeader.status).toBe(200)
    await byHeader.close()
  })
})
