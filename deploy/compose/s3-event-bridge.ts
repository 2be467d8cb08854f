import { createServer, type Server } from 'node:http'

/**
 * Compose-only glue: MinIO cannot publish bucket notifications to SQS (its targets are webhooks,
 * AMQP, Kafka, ...), and the SQS emulator cannot receive S3 notifications. This tiny server is
 * MinIO's webhook target and forwards each ObjectCreated event to the queue in the shape AWS S3
 * sends, so the processor runs the exact code path it runs in production.
 * No dependencies: it runs from a bind mount on plain node:24-bookworm-slim. Never used in production.
 */

type S3Record = { eventName?: unknown; eventSource?: unknown; awsRegion?: unknown; [field: string]: unknown }

/** MinIO writes `s3:ObjectCreated:Put` and `minio:s3`; AWS writes `ObjectCreated:Put` and `aws:s3`. */
export function toAwsS3Event(payload: unknown, region: string): { Records: S3Record[] } | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined
  const records = (payload as { Records?: unknown }).Records
  if (!Array.isArray(records)) return undefined
  const created = records
    .filter((r): r is S3Record => typeof r === 'object' && r !== null)
    .map((r) => ({
      ...r,
      eventName: String(r.eventName ?? '').replace(/^s3:/, ''),
      eventSource: 'aws:s3',
      awsRegion: typeof r.awsRegion === 'string' && r.awsRegion !== '' ? r.awsRegion : region,
    }))
    .filter((r) => r.eventName.startsWith('ObjectCreated:'))
  return created.length > 0 ? { Records: created } : undefined
}

export type BridgeOptions = { sqsEndpoint: string; queueUrl: string; region: string }

/** SendMessage over the SQS JSON protocol; the emulator does not check signatures. */
async function sendMessage(options: BridgeOptions, body: string): Promise<void> {
  const response = await fetch(options.sqsEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' },
    body: JSON.stringify({ QueueUrl: options.queueUrl, MessageBody: body }),
  })
  if (!response.ok) throw new Error(`SendMessage answered ${response.status}: ${await response.text()}`)
}

export function createS3EventBridge(options: BridgeOptions): Server {
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') return void res.writeHead(200).end('ok')
    if (req.method !== 'POST') return void res.writeHead(405).end()
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      let payload: unknown
      try {
        payload = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        return void res.writeHead(400).end('malformed JSON')
      }
      const event = toAwsS3Event(payload, options.region)
      if (event === undefined) return void res.writeHead(204).end()
      // Answer 2xx only once the queue has the message: MinIO keeps and retries failed deliveries.
      sendMessage(options, JSON.stringify(event)).then(
        () => res.writeHead(204).end(),
        (error: unknown) => {
          console.error(JSON.stringify({ msg: 'forward failed', error: String(error) }))
          res.writeHead(502).end()
        },
      )
    })
  })
}

if (import.meta.main) {
  const required = (name: string): string => {
    const value = process.env[name]
    if (value === undefined || value === '') throw new Error(`${name} is required`)
    return value
  }
  const server = createS3EventBridge({
    sqsEndpoint: required('SQS_ENDPOINT'),
    queueUrl: required('SQS_QUEUE_URL'),
    region: process.env.AWS_REGION ?? 'us-east-1',
  })
  const port = Number(process.env.PORT ?? 8080)
  server.listen(port, '0.0.0.0', () => console.log(JSON.stringify({ msg: 's3 event bridge listening', port })))
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => server.close(() => process.exit(0)))
}
