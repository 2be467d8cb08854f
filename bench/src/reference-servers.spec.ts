import { type AppProcess, findFreePort, type S3Emulator, startAppProcess, startS3Emulator } from '@image-service/devstack'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

type PresignAnswer = { image_id: string; upload_url: string; expires_at: string; upload_headers: Record<string, string> }

describe('the reference servers, as their own process', () => {
  let s3: S3Emulator
  let server: AppProcess
  let baseUrl: string
  beforeAll(async () => {
    s3 = await startS3Emulator({ buckets: ['images'] })
    const port = await findFreePort()
    baseUrl = `http://127.0.0.1:${port}`
    server = startAppProcess({
      name: 'reference-servers',
      entry: 'bench/src/reference-servers.ts',
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        AWS_REGION: s3.region,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        S3_BUCKET: 'images',
        S3_ENDPOINT: s3.endpoint,
      },
    })
    await server.waitForHttp(`${baseUrl}/health`)
  })
  afterAll(async () => {
    await server?.stop()
    await s3?.stop()
  })

  const presign = async (path: string) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer not-checked' },
      body: JSON.stringify({ content_type: 'image/png', file_name: 'a.png' }),
    })
    const text = await response.text()
    return { status: response.status, text, body: JSON.parse(text) as PresignAnswer }
  }

  it('naive presigns a PUT the storage accepts once, with the signed headers it names', async () => {
    const { status, body } = await presign('/naive')
    expect(status).toBe(201)
    expect(body.upload_headers).toEqual({ 'content-type': 'image/png', 'if-none-match': '*' })
    expect(new URL(body.upload_url).searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host;if-none-match')
    const put = () => fetch(body.upload_url, { method: 'PUT', headers: body.upload_headers, body: new Uint8Array([1, 2, 3]) })
    expect((await put()).status).toBe(200)
    expect((await put()).status).toBe(412)
  })

  it('ceiling answers a constant body of the shape and size of a naive answer', async () => {
    const [first, second, naive] = [await presign('/ceiling'), await presign('/ceiling'), await presign('/naive')]
    expect(first.status).toBe(201)
    expect(second.text).toBe(first.text)
    expect(Object.keys(first.body)).toEqual(Object.keys(naive.body))
    expect(first.text.length).toBe(naive.text.length)
  })

  it('stops cleanly on SIGTERM', async () => {
    expect(await server.stop()).toEqual({ code: 0, signal: null })
  })
})
