import { createLogger, loadConfigOrExit, redactUrl, shutdownTracing } from '@image-service/foundation'
import { createProcessorContainer } from './container.ts'

// Entry point: SQS long-poll worker plus /metrics and /health on PROCESSOR_HTTP_PORT.
// SIGTERM/SIGINT stop receiving (the pending long poll is aborted), let in-flight uploads
// finish, close the HTTP server and the clients, and exit 0.
const config = loadConfigOrExit('processor')

const log = createLogger({ level: config.log.level, pretty: config.log.pretty, name: 'processor' })
const container = createProcessorContainer(config, log)

let shuttingDown = false
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return
  shuttingDown = true
  log.info({ signal }, 'stopping: finishing in-flight uploads')
  await container.close()
  await shutdownTracing().catch((error: unknown) => log.warn({ err: error }, 'spans not exported at shutdown'))
  log.info({ validations: await container.validationMetrics.totals() }, 'processor stopped')
  process.exit(0)
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))

const http = await container.listen().catch((error: unknown) => {
  log.fatal({ err: error, host: config.processor.http.host, port: config.processor.http.port }, 'cannot serve /metrics and /health')
  process.exit(1)
})
log.info(
  {
    queueUrl: config.processor.queue.url,
    bucket: config.storage.bucket,
    database: redactUrl(config.database.url),
    concurrency: config.processor.queue.concurrency,
    http: http.url,
  },
  'processor started',
)
container.webhookRelay?.run().catch((error: unknown) => {
  log.fatal({ err: error }, 'webhook relay crashed')
  process.exit(1)
})
container.sweeper.start()
container.worker.run().catch((error: unknown) => {
  log.fatal({ err: error }, 'worker loop crashed')
  process.exit(1)
})
