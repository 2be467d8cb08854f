import { randomUUID } from 'node:crypto'
import {
  createImageServiceClient,
  type ImageServiceClient,
  ImageFailedError,
  ImageServiceError,
  imageIdOfUppyKey,
  JobFailedError,
  startWorkflow,
  putImage,
  uploadImage,
  uppySignRequest,
  waitForImage,
  waitForJob,
} from '@image-service/client'
import { noisePng, readCorpusFile } from '@image-service/devstack/corpus'
import { describe, expect, test } from 'vitest'
import { useSystem } from './support/use-system.ts'

// The package's helpers against the whole system: api and processor as processes, the
// S3/SQS/fal emulators, PostgreSQL. Each test acts for an owner of its own, so quotas, usage
// and event streams never mix.
const MiB = 1024 * 1024
const WAIT = { timeoutMs: 60_000 }

const running = useSystem()

type Traffic = { paths: string[] }

/** A client for a new owner, recording the api paths it calls. */
function newClient(): { client: ImageServiceClient; traffic: Traffic } {
  const { stack, apiUrl } = running()
  const owner = `client-${randomUUID()}`
  const client = createImageServiceClient({
    baseUrl: apiUrl,
    token: () => stack.identity.token({ subject: owner, expiresInSeconds: 600 }),
  })
  const traffic: Traffic = { paths: [] }
  client.use({
    onRequest({ request }) {
      traffic.paths.push(new URL(request.url).pathname)
    },
  })
  return { client, traffic }
}

const count = (traffic: Traffic, path: string) => traffic.paths.filter((p) => p === path).length

describe('uploadImage, putImage and waitForImage', () => {
  test('uploadImage in one call: resolves with the ready Image and its variants, or rejects with the failure reason', async () => {
    const { client } = newClient()
    const image = await uploadImage(client, {
      file: readCorpusFile('valid-jpeg-baseline-1024x768.jpg'),
      contentType: 'image/jpeg',
      wait: WAIT,
    })
    expect(image).toMatchObject({ status: 'ready', width: 1024, height: 768, placeholder: expect.any(String) })
    expect(image.variants.map((v) => `${v.name}.${v.format}`)).toEqual(['thumbnail.webp', 'medium.webp', 'large.webp'])

    const refused = await uploadImage(client, {
      file: readCorpusFile('polyglot-jpeg-soi-then-html.jpg'),
      contentType: 'image/jpeg',
      wait: WAIT,
    }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ImageFailedError)
    expect((refused as ImageFailedError).failureReason).toEqual(expect.stringMatching(/^[a-z_]+$/))
  })

  test('a corpus PNG: one presigned PUT with its size declared, then ready, learnt from the events stream', async () => {
    const { client, traffic } = newClient()
    const file = readCorpusFile('valid-png-rgb-1024x768.png')
    const progress: number[] = []
    const { imageId } = await putImage(client, {
      file,
      contentType: 'image/png',
      fileName: 'portrait.png',
      labels: { feature: 'client_spec' },
      onProgress: (p) => progress.push(p.uploadedBytes),
    })
    const image = await waitForImage(client, imageId, WAIT)
    expect(image).toMatchObject({
      image_id: imageId,
      status: 'ready',
      file_name: 'portrait.png',
      size_bytes: file.byteLength,
      width: 1024,
      height: 768,
      labels: { feature: 'client_spec' },
      failure_reason: null,
    })
    expect(progress).toEqual([file.byteLength])
    expect(count(traffic, '/api/image/v1/events/stream')).toBe(1)
    // Once after subscribing, once after the image.ready event: no polling.
    expect(count(traffic, `/api/image/v1/images/${imageId}`)).toBeLessThanOrEqual(2)
  })

  test('a hostile file (a PNG declared image/gif) rejects with ImageFailedError carrying its failure_reason', async () => {
    const { client } = newClient()
    const { imageId } = await putImage(client, { file: readCorpusFile('valid-png-rgba-256x256.png'), contentType: 'image/gif' })
    const error = await waitForImage(client, imageId, WAIT).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ImageFailedError)
    const failed = error as ImageFailedError
    expect({ imageId: failed.imageId, status: failed.status, reason: failed.failureReason }).toEqual({
      imageId,
      status: 'failed',
      reason: 'type_mismatch',
    })
    // The reason is the api's own, as its status route tells it.
    const { data } = await client.GET('/api/image/v1/images/{image_id}', { params: { path: { image_id: imageId } } })
    expect(data?.failure_reason).toBe(failed.failureReason)
  })

  test('a File (Blob) of HTML posing as a PNG: its name is recorded and it fails', async () => {
    const { client } = newClient()
    const file = new File([readCorpusFile('polyglot-html-then-png.png')], 'innocent.png', { type: 'image/png' })
    const { imageId } = await putImage(client, { file, contentType: 'image/png' })
    const failed = (await waitForImage(client, imageId, WAIT).catch((e: unknown) => e)) as ImageFailedError
    expect(failed).toBeInstanceOf(ImageFailedError)
    expect(failed.image).toMatchObject({ status: 'failed', file_name: 'innocent.png' })
    expect(failed.failureReason).toEqual(expect.stringMatching(/^[a-z_]+$/))
  })

  test('when the events stream is not available (here: a proxy answering 503), it polls the status route', async () => {
    const { client, traffic } = newClient()
    client.use({
      onRequest({ request }) {
        if (new URL(request.url).pathname === '/api/image/v1/events/stream') return new Response('no streams here', { status: 503 })
        return undefined
      },
    })
    const { imageId } = await putImage(client, { file: readCorpusFile('valid-webp-lossy-1024x768.webp'), contentType: 'image/webp' })
    const image = await waitForImage(client, imageId, { ...WAIT, pollIntervalMs: 50 })
    expect(image.status).toBe('ready')
    expect(count(traffic, '/api/image/v1/events/stream')).toBe(1)
    expect(count(traffic, `/api/image/v1/images/${imageId}`)).toBeGreaterThanOrEqual(1)
  })

  const brokenStreams: [string, () => ReadableStream<Uint8Array> | string][] = [
    ['keeps ending at once', () => 'retry: 2000\n\n'],
    // What a proxy that buffers the response looks like: a 200 and then nothing, not even heartbeats.
    ['stays silent', () => new ReadableStream<Uint8Array>()],
  ]
  test.each(brokenStreams)(
    'a stream that %s is reopened (the state read again each time), then given up for polling',
    async (_name, streamBody) => {
      const { client, traffic } = newClient()
      const file = readCorpusFile('valid-gif89a-320x240.gif')
      const issued = await client.POST('/api/image/v1/upload/create-presigned-url', {
        body: { content_type: 'image/gif', file_name: 'late.gif', size_bytes: file.byteLength },
      })
      const upload = issued.data
      if (upload === undefined) throw new Error(`presign answered ${issued.response.status}`)
      let polled: () => void = () => undefined
      const pollingStarted = new Promise<void>((resolve) => {
        polled = resolve
      })
      client.use({
        onRequest({ request }) {
          const path = new URL(request.url).pathname
          // Three openings read the state three times; a fourth read is the polling.
          if (path === `/api/image/v1/images/${upload.image_id}` && count(traffic, path) === 4) polled()
          if (path !== '/api/image/v1/events/stream') return undefined
          return new Response(streamBody(), { headers: { 'content-type': 'text/event-stream' } })
        },
      })
      const waiting = waitForImage(client, upload.image_id, { ...WAIT, pollIntervalMs: 50, streamIdleMs: 200 })
      await pollingStarted
      // Uploaded only now: the wait can only learn of it by polling.
      expect((await fetch(upload.upload_url, { method: 'PUT', headers: upload.upload_headers, body: file })).status).toBe(200)
      expect((await waiting).status).toBe('ready')
      expect(count(traffic, '/api/image/v1/events/stream')).toBe(3)
      expect(count(traffic, `/api/image/v1/images/${upload.image_id}`)).toBeGreaterThan(4)
    },
  )

  test('above the threshold the file goes in parts through the multipart routes, and becomes ready', async () => {
    const { client, traffic } = newClient()
    const file = noisePng(6 * MiB)
    const progress: number[] = []
    const { imageId } = await putImage(client, {
      file: new Blob([file]),
      contentType: 'image/png',
      fileName: 'large.png',
      multipartThresholdBytes: 5 * MiB,
      onProgress: (p) => progress.push(p.uploadedBytes),
    })
    expect(count(traffic, '/api/image/v1/upload/create-multipart-upload')).toBe(1)
    expect(count(traffic, '/api/image/v1/upload/complete-multipart-upload')).toBe(1)
    expect(count(traffic, '/api/image/v1/upload/create-presigned-url')).toBe(0)
    // Two parts (5 MiB and the rest), reported as each one completes.
    expect(progress).toHaveLength(2)
    expect(progress.at(-1)).toBe(file.byteLength)
    const image = await waitForImage(client, imageId, WAIT)
    expect(image).toMatchObject({ status: 'ready', size_bytes: file.byteLength, file_name: 'large.png' })
  })

  test('a multipart upload given up (its signal aborted between parts) is aborted at the api: the image fails with aborted', async () => {
    const { client, traffic } = newClient()
    const stop = new AbortController()
    const error = await putImage(client, {
      file: noisePng(6 * MiB),
      contentType: 'image/png',
      multipartThresholdBytes: 5 * MiB,
      partConcurrency: 1,
      signal: stop.signal,
      onProgress: () => stop.abort(),
    }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'AbortError' })
    expect(count(traffic, '/api/image/v1/upload/complete-multipart-upload')).toBe(0)
    const { data } = await client.GET('/api/image/v1/images')
    const imageId = data?.items[0]?.image_id ?? ''
    expect(traffic.paths).toContain(`/api/image/v1/upload/multipart/${imageId}`)
    const failed = await waitForImage(client, imageId, WAIT).catch((e: unknown) => e)
    expect(failed).toMatchObject({ name: 'ImageFailedError', status: 'failed', failureReason: 'aborted' })
  })

  test("api refusals are ImageServiceErrors with the api's stable code and status", async () => {
    const { client } = newClient()
    const refused = await putImage(client, { file: new Uint8Array([1, 2, 3]), contentType: 'image/svg+xml' }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ImageServiceError)
    expect(refused).toMatchObject({ status: 400, code: 'INVALID_CONTENT_TYPE', requestId: expect.any(String) })

    const missing = await waitForImage(client, '01JD3Z6Y7Q8R9S0T1V2W3X4Y5Z', WAIT).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(ImageServiceError)
    expect(missing).toMatchObject({ status: 404, code: 'IMAGE_NOT_FOUND' })
  })

  test('a wait past its timeoutMs rejects with a TimeoutError', async () => {
    const { client } = newClient()
    // Issued, never uploaded: it stays pending.
    const { data } = await client.POST('/api/image/v1/upload/create-presigned-url', {
      body: { content_type: 'image/png', file_name: 'never.png' },
    })
    const error = await waitForImage(client, data?.image_id ?? '', { timeoutMs: 300 }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'TimeoutError' })
  })
})

describe('uppySignRequest', () => {
  test('presigns without size_bytes (the quota reserves MAX_UPLOAD_BYTES) and its answer works for a real PUT to storage', async () => {
    const { client } = newClient()
    const sign = uppySignRequest(client)
    // What @uppy/aws-s3 v6 passes for a PutObject: its default key is `${randomUUID()}-${file.name}`.
    const signed = await sign({ method: 'PUT', key: `${randomUUID()}-cat.png`, contentType: 'image/png' })
    expect(Object.keys(signed.headers).sort()).toEqual(['content-type', 'if-none-match'])
    const imageId = imageIdOfUppyKey(signed.key)
    expect(imageId).toEqual(expect.any(String))

    const { data: usage } = await client.GET('/api/image/v1/usage')
    expect(usage?.reserved_bytes).toBe(10 * MiB)

    const file = readCorpusFile('valid-jpeg-baseline-1024x768.jpg')
    const put = await fetch(signed.url, { method: 'PUT', headers: signed.headers, body: file })
    expect(put.status).toBe(200)
    const failed = (await waitForImage(client, imageId ?? '', WAIT).catch((e: unknown) => e)) as ImageFailedError
    // A JPEG sent as the PNG it was signed for is stored, then refused by the processor.
    expect(failed).toMatchObject({ status: 'failed', failureReason: 'type_mismatch' })

    const png = readCorpusFile('valid-png-rgba-256x256.png')
    const second = await sign({ method: 'PUT', key: `${randomUUID()}-avatar.png`, contentType: 'image/png' })
    expect((await fetch(second.url, { method: 'PUT', headers: second.headers, body: png })).status).toBe(200)
    const image = await waitForImage(client, imageIdOfUppyKey(second.key) ?? '', WAIT)
    expect(image).toMatchObject({ status: 'ready', file_name: 'avatar.png', size_bytes: png.byteLength })
  })

  test("refuses Uppy's multipart requests, which would bypass the api's quota and part checks", async () => {
    const { client, traffic } = newClient()
    const sign = uppySignRequest(client)
    await expect(sign({ method: 'POST', key: 'big.png' })).rejects.toThrow(/shouldUseMultipart: false/)
    await expect(sign({ method: 'PUT', key: 'big.png', uploadId: 'u1', partNumber: 1 })).rejects.toThrow(/single PUTs only/)
    expect(traffic.paths).toEqual([])
  })
})

describe('startWorkflow and waitForJob', () => {
  test('a restyle job succeeds, its result is a ready image of the source, and a repeated key returns the same job', async () => {
    const { client } = newClient()
    const { imageId } = await putImage(client, { file: readCorpusFile('valid-png-rgb-1024x768.png'), contentType: 'image/png' })
    await waitForImage(client, imageId, WAIT)
    const key = randomUUID()
    const job = await startWorkflow(client, {
      imageId,
      workflowId: 'restyle',
      parameters: { prompt: 'a watercolour' },
      idempotencyKey: key,
    })
    expect(job).toMatchObject({ image_id: imageId, workflow_id: 'restyle', status: 'queued' })
    const again = await startWorkflow(client, {
      imageId,
      workflowId: 'restyle',
      parameters: { prompt: 'a watercolour' },
      idempotencyKey: key,
    })
    expect(again.job_id).toBe(job.job_id)

    const done = await waitForJob(client, job.job_id, WAIT)
    expect(done).toMatchObject({ job_id: job.job_id, status: 'succeeded', error: null })
    expect(done.result_image_ids).toHaveLength(1)
    const result = await waitForImage(client, done.result_image_ids[0] ?? '', WAIT)
    expect(result).toMatchObject({ status: 'ready', source_image_id: imageId, job_id: job.job_id })
  })

  test("a job the provider refuses rejects with JobFailedError carrying the job's error", async () => {
    const { client } = newClient()
    const { imageId } = await putImage(client, { file: readCorpusFile('valid-png-rgba-256x256.png'), contentType: 'image/png' })
    await waitForImage(client, imageId, WAIT)
    running().stack.fal.queueOutcomes({ type: 'validation_error', message: 'no face found in the image' })
    const job = await startWorkflow(client, { imageId, workflowId: 'restyle', parameters: { prompt: 'a portrait' } })
    const failed = (await waitForJob(client, job.job_id, WAIT).catch((e: unknown) => e)) as JobFailedError
    expect(failed).toBeInstanceOf(JobFailedError)
    expect(failed.status).toBe('failed')
    expect(failed.error).toMatchObject({ code: 'PROVIDER_REJECTED', message: expect.stringContaining('no face found in the image') })
  })

  test('a workflow on an image not ready yet is an ImageServiceError with IMAGE_NOT_READY', async () => {
    const { client } = newClient()
    const { data } = await client.POST('/api/image/v1/upload/create-presigned-url', {
      body: { content_type: 'image/png', file_name: 'p.png' },
    })
    const notReady = await startWorkflow(client, {
      imageId: data?.image_id ?? '',
      workflowId: 'restyle',
      parameters: { prompt: 'x' },
    }).catch((e: unknown) => e)
    expect(notReady).toMatchObject({ name: 'ImageServiceError', status: 409, code: 'IMAGE_NOT_READY' })
  })
})
