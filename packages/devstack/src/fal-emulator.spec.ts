import { createHash, createPublicKey, verify } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ApiError, createFalClient, ValidationError } from '@fal-ai/client'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FalEmulator, startFalEmulator } from './fal-emulator.ts'
import { waitFor } from './wait-for.ts'

/** The emulator as @fal-ai/client sees it: every call goes through requestMiddleware to it. */
describe('fal emulator', () => {
  let fal: FalEmulator
  let source: { url: string; close: () => Promise<void> }
  const dispatched: string[] = []
  let client: ReturnType<typeof createFalClient>

  beforeAll(async () => {
    fal = await startFalEmulator()
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 200, b: 30 } } })
      .png()
      .toBuffer()
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' })
      res.end(png)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    source = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/source.png`,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    }
    client = createFalClient({
      credentials: 'test-key',
      suppressLocalCredentialsWarning: true,
      requestMiddleware: async (request) => {
        dispatched.push(`${request.method} ${request.url}`)
        return { ...request, url: request.url.replace(/^https:\/\/(queue\.)?fal\.run/, fal.baseUrl) }
      },
    })
  })
  afterAll(async () => {
    await fal.stop()
    await source.close()
  })

  it('holds the answer to a submit it took until released: the request exists and runs meanwhile', async () => {
    const taken = fal.submitsTaken
    const release = fal.holdSubmits()
    let answered = false
    const submitting = client.queue
      .submit('fal-ai/flux/dev/image-to-image', { input: { prompt: 'p', image_url: source.url } })
      .finally(() => {
        answered = true
      })
    await waitFor(() => (fal.submitsTaken > taken ? true : undefined), { description: 'the submit taken' })
    const held = [...fal.requests.values()].at(-1)
    expect(answered).toBe(false)
    // Taken and running: it completes although its submitter has no answer yet.
    await waitFor(() => (held?.status === 'COMPLETED' ? true : undefined), { description: 'the held request completed' })
    expect(answered).toBe(false)
    release()
    expect((await submitting).request_id).toBe(held?.requestId)
  })

  it('queues a request, reports its status, and returns a real transformed image', async () => {
    const queued = await client.queue.submit('fal-ai/flux/dev/image-to-image', { input: { prompt: 'p', image_url: source.url } })
    expect(queued.status).toBe('IN_QUEUE')
    const done = await client.queue.subscribeToStatus('fal-ai/flux/dev/image-to-image', { requestId: queued.request_id, pollInterval: 20 })
    expect(done.status).toBe('COMPLETED')
    const result = await client.queue.result('fal-ai/flux/dev/image-to-image', { requestId: queued.request_id })
    expect(result.requestId).toBe(queued.request_id)
    const images = (result.data as { images: { url: string; width: number; height: number }[] }).images
    expect(images).toHaveLength(1)
    expect(images[0]).toMatchObject({ width: 40, height: 30 })
    const bytes = Buffer.from(await (await fetch(images[0]?.url ?? '')).arrayBuffer())
    const pixel = await sharp(bytes).raw().toBuffer()
    // Tinted: no longer the source's green.
    expect([pixel[0], pixel[1], pixel[2]]).not.toEqual([10, 200, 30])
    // The sub-path rule: polled under owner/alias only, as the client does.
    expect(dispatched.some((d) => d.includes(`/fal-ai/flux/requests/${queued.request_id}/status`))).toBe(true)
    const wrongPath = await fetch(`${fal.baseUrl}/fal-ai/flux/dev/image-to-image/requests/${queued.request_id}/status`, {
      headers: { authorization: 'Key k' },
    })
    expect(wrongPath.status).toBe(404)
  })

  it('streams the status as server-sent events until COMPLETED', async () => {
    fal.setTiming({ queueDelayMs: 50 })
    const queued = await client.queue.submit('fal-ai/image-apps-v2/hair-change', { input: { image_url: source.url } })
    const stream = await client.queue.streamStatus('fal-ai/image-apps-v2/hair-change', { requestId: queued.request_id })
    const seen: string[] = []
    stream.on('data', (status) => seen.push(status.status))
    const last = await stream.done()
    fal.setTiming({ queueDelayMs: 0 })
    expect(last.status).toBe('COMPLETED')
    expect(seen[0]).toBe('IN_QUEUE')
  })

  it('answers injected 429s, which the client retries by itself, and counts every try', async () => {
    fal.failNext('submit', 429, 1)
    const before = dispatched.length
    const queued = await client.queue.submit('fal-ai/image-apps-v2/hair-change', { input: { image_url: source.url } })
    expect(queued.request_id).toBeTruthy()
    expect(dispatched.length - before).toBe(2)
    expect(fal.calls.filter((c) => c.operation === 'submit' && c.status === 429)).toHaveLength(1)
  })

  it('fails a 500 on submit at once (the client does not retry it)', async () => {
    fal.failNext('submit', 500, 1)
    const error = await client.queue
      .submit('fal-ai/image-apps-v2/hair-change', { input: { image_url: source.url } })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError<unknown>).status).toBe(500)
  })

  it('ends a request with a 422 the client reads as a ValidationError', async () => {
    fal.queueOutcomes({ type: 'validation_error', message: 'face not found' })
    const queued = await client.queue.submit('fal-ai/image-apps-v2/hair-change', { input: { image_url: source.url } })
    await client.queue.subscribeToStatus('fal-ai/image-apps-v2/hair-change', { requestId: queued.request_id, pollInterval: 20 })
    const error = await client.queue.result('fal-ai/image-apps-v2/hair-change', { requestId: queued.request_id }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect(JSON.stringify((error as ValidationError).body)).toContain('face not found')
  })

  it('takes a cancel while queued and says so', async () => {
    fal.setTiming({ queueDelayMs: 60_000 })
    const queued = await client.queue.submit('fal-ai/image-apps-v2/hair-change', { input: { image_url: source.url } })
    await client.queue.cancel('fal-ai/image-apps-v2/hair-change', { requestId: queued.request_id })
    fal.setTiming({ queueDelayMs: 0 })
    expect(fal.cancels).toContain(queued.request_id)
  })

  it('posts a webhook signed as fal signs them, verifiable with its JWKS', async () => {
    const received: { headers: Record<string, string>; body: string }[] = []
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        received.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8') })
        res.end('ok')
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
    const queued = await client.queue.submit('fal-ai/image-apps-v2/hair-change', { input: { image_url: source.url }, webhookUrl: hook })
    const delivery = await waitFor(() => received[0], { description: 'the webhook' })
    receiver.close()
    const body = JSON.parse(delivery.body) as { request_id: string; status: string; payload: { images: unknown[] } }
    expect(body).toMatchObject({ request_id: queued.request_id, status: 'OK' })
    expect(body.payload.images).toHaveLength(1)
    const { keys } = (await (await fetch(fal.jwksUrl)).json()) as { keys: { kty: string; crv: string; x: string }[] }
    const key = createPublicKey({ key: keys[0] as { kty: string; crv: string; x: string }, format: 'jwk' })
    const h = delivery.headers
    const message = [
      h['x-fal-webhook-request-id'],
      h['x-fal-webhook-user-id'],
      h['x-fal-webhook-timestamp'],
      createHash('sha256').update(delivery.body).digest('hex'),
    ].join('\n')
    expect(verify(null, Buffer.from(message), key, Buffer.from(h['x-fal-webhook-signature'] ?? '', 'hex'))).toBe(true)
  })

  it('refuses calls without a Key credential', async () => {
    const response = await fetch(`${fal.baseUrl}/fal-ai/image-apps-v2/hair-change`, { method: 'POST', body: '{}' })
    expect(response.status).toBe(401)
  })
})
