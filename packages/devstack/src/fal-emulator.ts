import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { crc32 } from 'node:zlib'
import sharp from 'sharp'

/**
 * A local fal.ai queue, speaking the API exactly as @fal-ai/client uses it
 * (../shared/reference/integrations.md, section A):
 *
 *   POST /{owner}/{alias}[/{path}][?fal_webhook=url]      submit -> IN_QUEUE
 *   GET  /{owner}/{alias}/requests/{id}/status[?logs=]     status
 *   GET  /{owner}/{alias}/requests/{id}/status/stream      status as SSE, until COMPLETED
 *   GET  /{owner}/{alias}/requests/{id}                    result (`x-fal-request-id`)
 *   PUT  /{owner}/{alias}/requests/{id}/cancel             cancel
 *
 * Status, result and cancel drop the endpoint's sub-path, as the client does: a request
 * submitted to fal-ai/flux/dev/image-to-image is found at /fal-ai/flux/requests/{id} only.
 * Its model really fetches `image_url` and transforms it (sharp: tint, then flip), so results
 * are real images; webhooks are signed with Ed25519 (fal's scheme) under its own JWKS.
 * Tests inject faults and outcomes through the returned object.
 */
export type FalOperation = 'submit' | 'status' | 'stream' | 'result' | 'cancel'

export type FalOutcome =
  /** The model runs: real images, `num_images` of them (default 1). */
  | { type: 'ok' }
  /** The request fails as fal's input validation does: result answers 422 with `detail`. */
  | { type: 'validation_error'; message: string }
  /** The output file is text served as image/png. */
  | { type: 'not_an_image' }
  /** The output is a PNG whose header claims 100000 x 100000 pixels. */
  | { type: 'bomb' }

export type FalCall = { method: string; path: string; operation: FalOperation | 'file' | 'jwks' | 'unknown'; status: number }

export type FalRequestState = {
  requestId: string
  app: string
  endpoint: string
  input: Record<string, unknown>
  status: 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED'
  cancelled: boolean
  webhookUrl: string | undefined
  outcome: FalOutcome
  /** The model's output (result body) or error, once COMPLETED. */
  output?: { images: { url: string; content_type: string; width?: number; height?: number }[] } | undefined
  error?: { status: number; body: unknown } | undefined
}

export type FalWebhookDelivery = { requestId: string; url: string; status: number | 'unreachable' }

export type FalEmulatorOptions = {
  host?: string
  port?: number
  /** Time a request waits IN_QUEUE before the model starts; 0 unless given. */
  queueDelayMs?: number
  /** Time the model takes beyond fetching and transforming; 0 unless given. */
  modelLatencyMs?: number
}

export type FalEmulator = {
  /** Point FAL_BASE_URL here. */
  baseUrl: string
  /** The keys webhooks are signed with (FAL_WEBHOOK_JWKS_URL). */
  jwksUrl: string
  readonly calls: readonly FalCall[]
  readonly requests: ReadonlyMap<string, FalRequestState>
  readonly webhooks: readonly FalWebhookDelivery[]
  /** Requests whose cancel was taken (ids). */
  readonly cancels: readonly string[]
  /** The next `times` calls of `operation` answer `status` instead (429, 500, 503, ...). */
  failNext(operation: FalOperation, status: number, times: number): void
  /** The next submitted requests end with these outcomes, in order; later ones are `ok`. */
  queueOutcomes(...outcomes: FalOutcome[]): void
  setTiming(timing: { queueDelayMs?: number; modelLatencyMs?: number }): void
  /** While true, completed requests send no webhook (one that never comes). */
  dropWebhooks(drop: boolean): void
  /**
   * Output downloads wait (before their first byte) until the returned function is called;
   * with `after`, that many more downloads pass first (a kill between two outputs of a job).
   */
  holdOutputs(options?: { after?: number }): () => void
  /**
   * Submits are taken (the request is queued and runs) but answered only once the returned
   * function is called: a caller killed or cancelled between fal's accept and its answer.
   */
  holdSubmits(): () => void
  /** Submits taken so far (answered or held). */
  readonly submitsTaken: number
  /** Output downloads begun so far. */
  readonly outputDownloads: number
  /** fal's signature headers for a body, for tests that replay or forge webhooks. */
  signWebhook(requestId: string, body: string, timestampSeconds?: number): Record<string, string>
  stop(): Promise<void>
}

const USER_ID = 'fal-emulator-user'

export async function startFalEmulator(options: FalEmulatorOptions = {}): Promise<FalEmulator> {
  const host = options.host ?? '127.0.0.1'
  const timing = { queueDelayMs: options.queueDelayMs ?? 0, modelLatencyMs: options.modelLatencyMs ?? 0 }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'fal-emulator', alg: 'EdDSA', use: 'sig' }
  const calls: FalCall[] = []
  const requests = new Map<string, FalRequestState>()
  const files = new Map<string, { bytes: Uint8Array; contentType: string }>()
  const webhooks: FalWebhookDelivery[] = []
  const cancels: string[] = []
  const faults: { operation: FalOperation; status: number; left: number }[] = []
  const outcomes: FalOutcome[] = []
  const timers = new Set<NodeJS.Timeout>()
  const streams = new Map<string, Set<ServerResponse>>()
  let dropping = false
  let outputGate: Promise<void> | undefined
  let outputsPassing = 0
  let outputDownloads = 0
  let submitGate: Promise<void> | undefined
  let submitsTaken = 0
  let baseUrl = ''

  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      run()
    }, ms)
    timers.add(timer)
  }

  const statusBody = (r: FalRequestState) => {
    const root = `${baseUrl}/${r.app}/requests/${r.requestId}`
    return {
      status: r.status,
      request_id: r.requestId,
      response_url: root,
      status_url: `${root}/status`,
      cancel_url: `${root}/cancel`,
      ...(r.status === 'IN_QUEUE' ? { queue_position: 0 } : { logs: [] }),
      ...(r.status === 'COMPLETED' ? { metrics: { inference_time: timing.modelLatencyMs / 1000 } } : {}),
    }
  }

  const setStatus = (r: FalRequestState, status: FalRequestState['status']) => {
    r.status = status
    for (const stream of streams.get(r.requestId) ?? []) {
      stream.write(`data: ${JSON.stringify(statusBody(r))}\n\n`)
      if (status === 'COMPLETED') stream.end()
    }
    if (status === 'COMPLETED') streams.delete(r.requestId)
  }

  const signWebhook = (requestId: string, body: string, timestampSeconds = Math.floor(Date.now() / 1000)) => {
    const timestamp = String(timestampSeconds)
    const digest = createHash('sha256').update(body).digest('hex')
    const signature = sign(null, Buffer.from([requestId, USER_ID, timestamp, digest].join('\n')), privateKey).toString('hex')
    return {
      'x-fal-webhook-request-id': requestId,
      'x-fal-webhook-user-id': USER_ID,
      'x-fal-webhook-timestamp': timestamp,
      'x-fal-webhook-signature': signature,
    }
  }

  const sendWebhook = async (r: FalRequestState) => {
    if (r.webhookUrl === undefined || dropping) return
    const body = JSON.stringify(
      r.error === undefined
        ? { request_id: r.requestId, gateway_request_id: r.requestId, status: 'OK', payload: r.output }
        : {
            request_id: r.requestId,
            gateway_request_id: r.requestId,
            status: 'ERROR',
            error: `Invalid status code: ${r.error.status}`,
            payload: r.error.body,
          },
    )
    const headers = { 'content-type': 'application/json', ...signWebhook(r.requestId, body) }
    const response = await fetch(r.webhookUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) }).catch(
      () => undefined,
    )
    webhooks.push({ requestId: r.requestId, url: r.webhookUrl, status: response?.status ?? 'unreachable' })
    await response?.body?.cancel()
  }

  const complete = (r: FalRequestState) => {
    if (r.cancelled) return
    setStatus(r, 'COMPLETED')
    void sendWebhook(r)
  }

  const runModel = async (r: FalRequestState) => {
    if (r.cancelled) return
    setStatus(r, 'IN_PROGRESS')
    const outcome = r.outcome
    if (outcome.type === 'validation_error') {
      r.error = { status: 422, body: { detail: [{ loc: ['body', 'image_url'], msg: outcome.message, type: 'value_error' }] } }
      return later(timing.modelLatencyMs, () => complete(r))
    }
    try {
      const count = typeof r.input.num_images === 'number' ? Math.min(4, Math.max(1, r.input.num_images)) : 1
      const images: NonNullable<FalRequestState['output']>['images'] = []
      const source = await fetchImage(String(r.input.image_url))
      for (let i = 0; i < count; i++) {
        const name = `${r.requestId}-${i}.png`
        const made = await makeOutput(outcome, source, i)
        files.set(name, { bytes: made.bytes, contentType: 'image/png' })
        images.push({
          url: `${baseUrl}/files/${name}`,
          content_type: 'image/png',
          ...(made.width === undefined ? {} : { width: made.width, height: made.height }),
        })
      }
      r.output = { images }
    } catch (error) {
      r.error = {
        status: 422,
        body: {
          detail: [{ loc: ['body', 'image_url'], msg: `could not use image_url: ${(error as Error).message}`, type: 'value_error' }],
        },
      }
    }
    later(timing.modelLatencyMs, () => complete(r))
  }

  const injected = (operation: FalOperation) => {
    const fault = faults.find((f) => f.operation === operation && f.left > 0)
    if (fault === undefined) return undefined
    fault.left -= 1
    return fault.status
  }

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(body))
    return status
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<{ operation: FalCall['operation']; status: number }> => {
    const url = new URL(req.url ?? '/', 'http://fal.local')
    const path = url.pathname
    if (req.method === 'GET' && path === '/.well-known/jwks.json') return { operation: 'jwks', status: json(res, 200, { keys: [jwk] }) }
    if (req.method === 'GET' && path.startsWith('/files/')) {
      const file = files.get(path.slice('/files/'.length))
      if (file === undefined) return { operation: 'file', status: json(res, 404, { detail: 'no such file' }) }
      outputDownloads += 1
      if (outputGate !== undefined && outputsPassing > 0) outputsPassing -= 1
      else if (outputGate !== undefined) await outputGate
      res.writeHead(200, { 'content-type': file.contentType, 'content-length': String(file.bytes.byteLength) })
      res.end(file.bytes)
      return { operation: 'file', status: 200 }
    }
    const requestPath = /^\/([^/]+)\/([^/]+)\/requests\/([^/]+)(\/status|\/status\/stream|\/cancel)?$/.exec(path)
    const operation: FalOperation | undefined = requestPath
      ? requestPath[4] === '/cancel'
        ? 'cancel'
        : requestPath[4] === '/status/stream'
          ? 'stream'
          : requestPath[4] === '/status'
            ? 'status'
            : 'result'
      : req.method === 'POST' && !path.includes('/requests/')
        ? 'submit'
        : undefined
    if (operation === undefined) return { operation: 'unknown', status: json(res, 404, { detail: `no route ${req.method} ${path}` }) }
    if (!/^Key \S+/.test(req.headers.authorization ?? ''))
      return { operation, status: json(res, 401, { detail: 'missing or malformed Authorization: Key' }) }
    const fault = injected(operation)
    if (fault !== undefined) {
      return {
        operation,
        status: json(res, fault, { detail: `injected ${fault}`, error_type: fault === 429 ? 'rate_limited' : 'runner_server_error' }),
      }
    }

    if (operation === 'submit') {
      const segments = path.split('/').filter(Boolean)
      if (segments.length < 2) return { operation, status: json(res, 404, { detail: 'an endpoint id is owner/alias[/path]' }) }
      const input = await readJson(req)
      if (typeof input !== 'object' || input === null || typeof (input as { image_url?: unknown }).image_url !== 'string') {
        return { operation, status: json(res, 422, { detail: [{ loc: ['body', 'image_url'], msg: 'field required', type: 'missing' }] }) }
      }
      const requestId = randomUUID()
      const r: FalRequestState = {
        requestId,
        app: segments.slice(0, 2).join('/'),
        endpoint: segments.join('/'),
        input: input as Record<string, unknown>,
        status: 'IN_QUEUE',
        cancelled: false,
        webhookUrl: url.searchParams.get('fal_webhook') ?? undefined,
        outcome: outcomes.shift() ?? { type: 'ok' },
      }
      requests.set(requestId, r)
      submitsTaken += 1
      later(timing.queueDelayMs, () => void runModel(r))
      if (submitGate !== undefined) await submitGate
      return { operation, status: json(res, 200, { ...statusBody(r), gateway_request_id: requestId }) }
    }

    const [, owner, alias, requestId] = requestPath as RegExpExecArray
    const r = requests.get(requestId as string)
    // The sub-path rule: only the request's own owner/alias finds it.
    if (r === undefined || r.app !== `${owner}/${alias}`) return { operation, status: json(res, 404, { detail: 'request not found' }) }
    switch (operation) {
      case 'status':
        return { operation, status: json(res, 200, statusBody(r)) }
      case 'stream': {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        res.write(`data: ${JSON.stringify(statusBody(r))}\n\n`)
        if (r.status === 'COMPLETED') res.end()
        else {
          const set = streams.get(r.requestId) ?? new Set()
          set.add(res)
          streams.set(r.requestId, set)
          res.on('close', () => set.delete(res))
        }
        return { operation, status: 200 }
      }
      case 'result': {
        if (r.cancelled) return { operation, status: json(res, 400, { detail: 'request was cancelled' }) }
        if (r.status !== 'COMPLETED') return { operation, status: json(res, 400, { detail: 'request is still in progress' }) }
        if (r.error !== undefined)
          return { operation, status: json(res, r.error.status, r.error.body, { 'x-fal-request-id': r.requestId }) }
        return { operation, status: json(res, 200, r.output, { 'x-fal-request-id': r.requestId }) }
      }
      case 'cancel': {
        if (r.status === 'COMPLETED' && !r.cancelled) return { operation, status: json(res, 400, { status: 'ALREADY_COMPLETED' }) }
        r.cancelled = true
        cancels.push(r.requestId)
        setStatus(r, 'COMPLETED')
        return { operation, status: json(res, 202, { status: 'CANCELLATION_REQUESTED' }) }
      }
    }
    return { operation, status: json(res, 404, { detail: 'no route' }) }
  }

  const server = createServer((req, res) => {
    handle(req, res)
      .then(({ operation, status }) => calls.push({ method: req.method ?? '', path: req.url ?? '', operation, status }))
      .catch((error: unknown) => {
        calls.push({ method: req.method ?? '', path: req.url ?? '', operation: 'unknown', status: 500 })
        if (!res.headersSent) json(res, 500, { detail: (error as Error).message })
        else res.end()
      })
  })
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve))
  baseUrl = `http://${host}:${(server.address() as AddressInfo).port}`

  return {
    baseUrl,
    jwksUrl: `${baseUrl}/.well-known/jwks.json`,
    calls,
    requests,
    webhooks,
    cancels,
    failNext(operation, status, times) {
      faults.push({ operation, status, left: times })
    },
    queueOutcomes(...next) {
      outcomes.push(...next)
    },
    setTiming(next) {
      Object.assign(timing, next)
    },
    dropWebhooks(drop) {
      dropping = drop
    },
    holdOutputs(hold = {}) {
      outputsPassing = hold.after ?? 0
      let release = () => {}
      outputGate = new Promise((resolve) => {
        release = () => {
          outputGate = undefined
          resolve()
        }
      })
      return release
    },
    holdSubmits() {
      let release = () => {}
      submitGate = new Promise((resolve) => {
        release = () => {
          submitGate = undefined
          resolve()
        }
      })
      return release
    },
    get submitsTaken() {
      return submitsTaken
    },
    get outputDownloads() {
      return outputDownloads
    },
    signWebhook,
    async stop() {
      for (const timer of timers) clearTimeout(timer)
      for (const set of streams.values()) for (const stream of set) stream.end()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return undefined
  }
}

async function fetchImage(url: string): Promise<Buffer> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  if (!response.ok) throw new Error(`image_url answered HTTP ${response.status}`)
  return Buffer.from(await response.arrayBuffer())
}

/** The model: a real transformation of the real source, or the failure a test asked for. */
async function makeOutput(
  outcome: FalOutcome,
  source: Buffer,
  index: number,
): Promise<{ bytes: Uint8Array; width?: number; height?: number }> {
  if (outcome.type === 'not_an_image') return { bytes: Buffer.from('<html>this is not an image</html>\n') }
  if (outcome.type === 'bomb') return { bytes: pngClaiming(100_000, 100_000) }
  const tints = [
    { r: 255, g: 140, b: 90 },
    { r: 90, g: 160, b: 255 },
    { r: 120, g: 220, b: 120 },
    { r: 230, g: 120, b: 230 },
  ]
  const { data, info } = await sharp(source, { failOn: 'error' })
    .rotate()
    .tint(tints[index % tints.length] as { r: number; g: number; b: number })
    .flip()
    .png()
    .toBuffer({ resolveWithObject: true })
  return { bytes: data, width: info.width, height: info.height }
}

/** A tiny, valid PNG whose IHDR claims `width` x `height`: a decompression bomb by its header. */
function pngClaiming(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body))
    return Buffer.concat([length, body, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 0, 0, 0, 0], 8) // 8-bit greyscale, no interlace
  // One deflate block of zeros: far too little data for the claimed size.
  const idat = Buffer.from([0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01])
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ])
}
