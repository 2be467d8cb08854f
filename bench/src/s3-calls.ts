// What one AWS call costs the processor's CPU, two ways in the same run: through the SDK's
// client (`client.send`), and without it (the SDK's SigV4 signer and credentials over a
// keep-alive agent: createS3ObjectRequests, createSqsMessageDeletes), for the calls every
// upload makes: a ranged GET of the first 4,100 bytes of an object, a PUT of a 20 KB variant,
// and the DeleteMessage that acknowledges its event. The S3 and SQS emulators run in this
// process; the calls are made by a child process of their own, so its CPU is the client's
// alone (a delete block's messages are sent and received before its CPU is read).
// `node bench/src/s3-calls.ts` (BENCH_ROUNDS, BENCH_CALLS).
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs'
import { startS3Emulator, startSqsEmulator } from '@image-service/devstack'
import { createS3Client, createS3ObjectRequests, createSqsClient, createSqsMessageDeletes } from '@image-service/foundation'

export type S3CallsResult = {
  calls: number
  rounds: number
  /** Median over rounds of the child's CPU per call (all threads), microseconds. */
  cpuUs: { sdkGet: number; directGet: number; sdkPut: number; directPut: number; sdkDelete: number; directDelete: number }
}

type HostInput = {
  endpoint: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  bucket: string
  sqsEndpoint: string
  queueUrl: string
  calls: number
  rounds: number
}

const BUCKET = 'bench-s3-calls'
const OBJECT_BYTES = 200_000
const RANGE = 'bytes=0-4099'
const VARIANT = Buffer.alloc(20_000, 7)

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

async function host(input: HostInput): Promise<S3CallsResult> {
  const client = createS3Client({
    region: input.region,
    bucket: input.bucket,
    endpoint: input.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: input.accessKeyId, secretAccessKey: input.secretAccessKey },
  })
  const direct = createS3ObjectRequests({ client, bucket: input.bucket })
  const sqs = createSqsClient({
    region: input.region,
    endpoint: input.sqsEndpoint,
    credentials: { accessKeyId: input.accessKeyId, secretAccessKey: input.secretAccessKey },
  })
  const deleteMessage = createSqsMessageDeletes({ client: sqs })
  const { queueUrl } = input
  /** Receipt handles of `count` messages received now, for a block of deletes. */
  const received = async (count: number): Promise<string[]> => {
    for (let sent = 0; sent < count; sent += 10) {
      const entries = Array.from({ length: Math.min(10, count - sent) }, (_, i) => ({ Id: String(i), MessageBody: 'x' }))
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }))
    }
    const handles: string[] = []
    while (handles.length < count) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      )
      for (const m of Messages) handles.push(m.ReceiptHandle ?? '')
    }
    return handles
  }
  let handles: string[] = []
  const source = 'uploads/01J0000000000000000000BENCH'
  await client.send(
    new PutObjectCommand({ Bucket: input.bucket, Key: source, Body: Buffer.alloc(OBJECT_BYTES, 1), ContentType: 'image/png' }),
  )
  const drain = async (body: AsyncIterable<Uint8Array> | undefined) => {
    for await (const _ of body ?? []) {
      // read to the end, as the validation's read does for a small upload
    }
  }
  const ways = {
    sdkGet: async (i: number) => {
      const object = await client.send(new GetObjectCommand({ Bucket: input.bucket, Key: source, Range: RANGE }))
      await drain(object.Body as AsyncIterable<Uint8Array> | undefined)
      return i
    },
    directGet: async (i: number) => {
      await drain((await direct.getObject(source, { range: RANGE })).body)
      return i
    },
    sdkPut: (i: number) =>
      client.send(
        new PutObjectCommand({
          Bucket: input.bucket,
          Key: `variants/sdk/${i % 50}.webp`,
          Body: VARIANT,
          ContentType: 'image/webp',
          ContentLength: VARIANT.byteLength,
        }),
      ),
    directPut: (i: number) =>
      direct.putObject(`variants/direct/${i % 50}.webp`, VARIANT, {
        contentType: 'image/webp',
        cacheControl: 'public, max-age=31536000, immutable',
      }),
    sdkDelete: (i: number) => sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: handles[i] })),
    directDelete: (i: number) => deleteMessage(queueUrl, handles[i] ?? ''),
  }
  const names = Object.keys(ways) as Array<keyof typeof ways>
  const samples: Record<keyof typeof ways, number[]> = {
    sdkGet: [],
    directGet: [],
    sdkPut: [],
    directPut: [],
    sdkDelete: [],
    directDelete: [],
  }
  // One warm-up block each (connections, JIT, the endpoint probe), then the rounds in turn.
  for (let round = -1; round < input.rounds; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      if (name === 'sdkDelete' || name === 'directDelete') handles = await received(input.calls)
      const before = process.cpuUsage()
      for (let i = 0; i < input.calls; i++) await ways[name](i)
      const used = process.cpuUsage(before)
      if (round >= 0) samples[name].push((used.user + used.system) / input.calls)
    }
  }
  client.destroy()
  sqs.destroy()
  return {
    calls: input.calls,
    rounds: input.rounds,
    cpuUs: {
      sdkGet: Math.round(median(samples.sdkGet)),
      directGet: Math.round(median(samples.directGet)),
      sdkPut: Math.round(median(samples.sdkPut)),
      directPut: Math.round(median(samples.directPut)),
      sdkDelete: Math.round(median(samples.sdkDelete)),
      directDelete: Math.round(median(samples.directDelete)),
    },
  }
}

export async function measureS3Calls(options: { rounds?: number; calls?: number } = {}): Promise<S3CallsResult> {
  const s3 = await startS3Emulator({ buckets: [BUCKET] })
  const sqs = await startSqsEmulator()
  try {
    const { queueUrl } = await sqs.createQueue('bench-calls', { visibilityTimeoutSeconds: 300 })
    const input: HostInput = {
      endpoint: s3.endpoint,
      region: s3.region,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      bucket: BUCKET,
      sqsEndpoint: sqs.endpoint,
      queueUrl,
      calls: options.calls ?? 300,
      rounds: options.rounds ?? 5,
    }
    const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), '--host', JSON.stringify(input)], {
      maxBuffer: 1024 * 1024,
    })
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as S3CallsResult
  } finally {
    await Promise.all([s3.stop(), sqs.stop()])
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--host') {
    console.log(JSON.stringify(await host(JSON.parse(process.argv[3] ?? '{}') as HostInput)))
  } else {
    const result = await measureS3Calls({ rounds: Number(process.env.BENCH_ROUNDS ?? 5), calls: Number(process.env.BENCH_CALLS ?? 300) })
    console.log(JSON.stringify(result))
  }
}
