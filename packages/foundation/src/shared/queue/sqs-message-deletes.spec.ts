import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs'
import { SignatureV4 } from '@smithy/signature-v4'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { AwsSha256 } from '../storage/aws-sha256.ts'
import { createSqsClient } from './sqs-client.ts'
import { createSqsMessageDeletes, SqsRequestError } from './sqs-message-deletes.ts'
import { type SpecSqs, startSpecSqs } from './testing/spec-sqs.ts'

describe('createSqsMessageDeletes on the SQS emulator', () => {
  let spec: SpecSqs
  beforeAll(async () => {
    spec = await startSpecSqs()
  })
  afterAll(() => spec?.stop())

  it('deletes received messages from two queues: nothing is left visible or in flight', async () => {
    const queues = [
      (await spec.sqs.createQueue('deletes-spec-a', { visibilityTimeoutSeconds: 30 })).queueUrl,
      (await spec.sqs.createQueue('deletes-spec-b', { visibilityTimeoutSeconds: 30 })).queueUrl,
    ]
    const deleteMessage = createSqsMessageDeletes({ client: spec.client })
    for (const QueueUrl of queues) {
      await spec.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'one' }))
      await spec.client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'two' }))
      const received = []
      while (received.length < 2) {
        const { Messages = [] } = await spec.client.send(
          new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 2, WaitTimeSeconds: 1 }),
        )
        received.push(...Messages)
      }
      const inFlight = await counts(QueueUrl)
      expect(inFlight).toEqual({ visible: 0, inFlight: 2 })
      await Promise.all(received.map((m) => deleteMessage(QueueUrl, m.ReceiptHandle ?? '')))
      expect(await counts(QueueUrl)).toEqual({ visible: 0, inFlight: 0 })
    }
  })

  async function counts(QueueUrl: string) {
    const { Attributes = {} } = await spec.client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    )
    return { visible: Number(Attributes.ApproximateNumberOfMessages), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible) }
  }
})

const SECRET = 'scripted-secret'

/** An HTTP server that answers each request with the next scripted handler, and records what it got. */
async function scriptedServer(script: Array<(req: IncomingMessage, res: ServerResponse) => void>) {
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }> = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) })
      script[Math.min(seen.length - 1, script.length - 1)]?.(req, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    seen,
    origin,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const ok = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' })
  res.end('{}')
}
const sqsError = (status: number, code: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': `${code};Sender` })
  res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message: 'scripted' }))
}

/** Signs the request as received with the secret, at its own X-Amz-Date: equal only if what went over the wire is what was signed. */
async function signatureOnTheWire(request: { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }) {
  const authorization = String(request.headers.authorization)
  const signedNames = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? []
  const headers = Object.fromEntries(signedNames.map((name) => [name, String(request.headers[name])]))
  const date = String(request.headers['x-amz-date'])
  const signingDate = new Date(
    `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
  )
  const signer = new SignatureV4({
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET },
    region: 'eu-west-1',
    service: 'sqs',
    sha256: AwsSha256,
  })
  const host = String(request.headers.host)
  const [hostname = '', port] = host.split(':')
  const resigned = await signer.sign(
    { method: request.method, protocol: 'http:', hostname, port: Number(port), path: request.url, query: {}, headers, body: request.body },
    { signingDate },
  )
  return {
    sent: /Signature=([0-9a-f]{64})/.exec(authorization)?.[1],
    expected: /Signature=([0-9a-f]{64})/.exec(String(resigned.headers.authorization))?.[1],
  }
}

describe('createSqsMessageDeletes on a scripted server', () => {
  let server: Awaited<ReturnType<typeof scriptedServer>> | undefined
  let client: ReturnType<typeof createSqsClient> | undefined
  afterEach(async () => {
    client?.destroy()
    await server?.close()
    server = undefined
    client = undefined
  })
  const clientFor = (endpoint: string | undefined) =>
    createSqsClient({ region: 'eu-west-1', endpoint, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET } })

  it("sends the SDK's JSON DeleteMessage to the configured endpoint, signed for sqs over what went on the wire", async () => {
    server = await scriptedServer([ok])
    client = clientFor(server.origin)
    const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/000000000000/uploads'
    await createSqsMessageDeletes({ client })(queueUrl, 'handle-1')
    const [sent] = server.seen
    expect(sent).toMatchObject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.DeleteMessage', 'x-amzn-query-mode': 'true' },
    })
    expect(JSON.parse(sent?.body.toString() ?? '')).toEqual({ QueueUrl: queueUrl, ReceiptHandle: 'handle-1' })
    expect(sent?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/sqs\/aws4_request, /)
    const signature = await signatureOnTheWire(sent as NonNullable<typeof sent>)
    expect(signature.sent).toBe(signature.expected)
  })

  it("goes to the queue URL's origin when the client has no endpoint, as the SDK does", async () => {
    server = await scriptedServer([ok])
    client = clientFor(undefined)
    await createSqsMessageDeletes({ client })(`${server.origin}/000000000000/uploads`, 'handle-2')
    expect(server.seen.map((r) => [r.method, r.url])).toEqual([['POST', '/']])
  })

  it('answers an invalid receipt handle at once, with the code SQS gave', async () => {
    server = await scriptedServer([sqsError(400, 'ReceiptHandleIsInvalid')])
    client = clientFor(server.origin)
    const error = await createSqsMessageDeletes({ client, backoffBaseMs: 1 })(`${server.origin}/q`, 'stale').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SqsRequestError)
    expect(error).toMatchObject({ status: 400, code: 'ReceiptHandleIsInvalid' })
    expect(server.seen).toHaveLength(1)
  })

  it('tries a 500 and a dropped connection again, and succeeds on the third try', async () => {
    server = await scriptedServer([sqsError(500, 'InternalError'), (req) => req.socket.destroy(), ok])
    client = clientFor(server.origin)
    await createSqsMessageDeletes({ client, backoffBaseMs: 1 })(`${server.origin}/q`, 'handle-3')
    expect(server.seen.map((r) => JSON.parse(r.body.toString()).ReceiptHandle)).toEqual(['handle-3', 'handle-3', 'handle-3'])
  })

  it('gives up after three tries of a 503, with the status', async () => {
    server = await scriptedServer([sqsError(503, 'ServiceUnavailable')])
    client = clientFor(server.origin)
    const error = await createSqsMessageDeletes({ client, backoffBaseMs: 1 })(`${server.origin}/q`, 'handle-4').catch((e: unknown) => e)
    expect(error).toMatchObject({ status: 503, code: 'ServiceUnavailable' })
    expect(server.seen).toHaveLength(3)
  })
})
