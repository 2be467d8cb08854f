import { PutObjectCommand } from '@aws-sdk/client-s3'
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs'
import { createEmulatorS3Client, type DevStack, waitFor } from '@image-service/devstack'
import { readCorpusFile } from '@image-service/devstack/corpus'
import type postgres from 'postgres'
import { startApp } from './app-process.ts'
import { type CpuSplit, startCpuAccounting } from './cpu.ts'
import { roundRobin, type Seeder } from './seed.ts'

export type ProcessorResult = {
  count: number
  /** count / (processor spawn -> last record final), start-up included. */
  perSecond: number
  /** Between the first and the last record turning final: the steady rate. */
  steadyPerSecond: number
  seconds: number
  failed: number
  concurrency: number
  /** bench = this process: the S3, SQS and CDN emulators and the S3 -> SQS bridge. */
  cpu: CpuSplit
}

export type ProcessorScenarioOptions = {
  count: number
  concurrency: number
  postgresPort: number | undefined
  /** The uploads are dealt out among these owners in turn. */
  owners: readonly string[]
  seeder: Seeder
  cpuProfileDir?: string
}

// A real 128x128 palette PNG from the shared corpus: it passes every check including the decode.
const IMAGE = 'valid-png-palette-trns-128x128.png'

/**
 * Uploads `count` valid images the way clients would (pending record, then PutObject; the dev
 * stack's bridge turns each into an S3 event on the queue), then starts the real processor and
 * times it until every record has left `pending`.
 */
export async function runProcessorScenario(
  stack: DevStack,
  sql: postgres.Sql,
  options: ProcessorScenarioOptions,
): Promise<ProcessorResult> {
  const body = readCorpusFile(IMAGE)
  const s3 = createEmulatorS3Client(stack.s3)
  const credentials = { accessKeyId: stack.s3.accessKeyId, secretAccessKey: stack.s3.secretAccessKey }
  const sqs = new SQSClient({ region: stack.sqs.region, endpoint: stack.sqs.endpoint, credentials })
  try {
    const ids = await options.seeder.pending(roundRobin(options.owners, options.count), 'image/png')
    let next = 0
    const putAll = async () => {
      while (next < ids.length) {
        const id = ids[next++] as string
        await s3.send(new PutObjectCommand({ Bucket: stack.s3.bucket, Key: `uploads/${id}`, Body: body, ContentType: 'image/png' }))
      }
    }
    await Promise.all(Array.from({ length: 16 }, putAll))
    let depth = 0
    const enqueued = async () => {
      depth = await queueDepth(sqs, stack.sqs.queueUrl)
      return depth >= options.count ? true : undefined
    }
    await waitFor(enqueued, {
      timeoutMs: 60_000,
      intervalMs: 25,
      description: `the bridge to enqueue every event (${options.count})`,
    }).catch((error: Error) => {
      throw new Error(`${error.message}: the queue holds ${depth}`)
    })

    const started = performance.now()
    const processor = startApp({
      name: 'processor',
      entry: 'apps/processor/src/main.ts',
      env: { ...stack.env, LOG_LEVEL: 'warn', PROCESSOR_CONCURRENCY: String(options.concurrency), PROCESSOR_HTTP_PORT: '0' },
      ...(options.cpuProfileDir === undefined ? {} : { cpuProfileDir: options.cpuProfileDir }),
    })
    const cpuSince = startCpuAccounting(processor.pid, options.postgresPort)
    let cpu: CpuSplit | undefined
    try {
      const validated = waitFor(
        async () => {
          const [row] = await sql`SELECT count(*)::int AS n FROM image_records WHERE id = ANY(${ids}) AND status <> 'pending'`
          return (row?.n as number) >= options.count ? true : undefined
        },
        { timeoutMs: 120_000, intervalMs: 25, description: 'every upload to be validated' },
      )
      await processor.whileRunning(validated, 'every upload to be validated')
      cpu = cpuSince()
    } finally {
      await processor.stop()
    }
    const seconds = (performance.now() - started) / 1000
    const [stats] = await sql`
      SELECT count(*) FILTER (WHERE status = 'failed')::int AS failed,
             extract(epoch FROM max(updated_at) - min(updated_at))::float8 AS span
      FROM image_records WHERE id = ANY(${ids})`
    const span = (stats?.span as number) || seconds
    return {
      count: options.count,
      perSecond: Math.round(options.count / seconds),
      steadyPerSecond: Math.round((options.count - 1) / span),
      seconds: Math.round(seconds * 100) / 100,
      failed: stats?.failed as number,
      concurrency: options.concurrency,
      cpu: cpu as CpuSplit,
    }
  } finally {
    s3.destroy()
    sqs.destroy()
  }
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  )
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0)
}
