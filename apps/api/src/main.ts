import { createLogger, loadConfigOrExit, shutdownTracing } from '@image-service/foundation'
import { buildApp } from './app.ts'
import { createApiContainer } from './container.ts'

/** Start-up: config (fail fast, naming every problem), wiring, listen; clean stop on signals. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('api')
  const logger = createLogger({ level: config.log.level, pretty: config.log.pretty, name: 'api' })
  const container = createApiContainer(config, logger)
  const app = await buildApp({ container, config, logger })

  let stopping = false
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping')
    try {
      // Fixed order: stop taking requests and finish in-flight ones, then end the pool.
      await app.close()
      await container.close()
      await shutdownTracing().catch((error: unknown) => logger.warn({ err: error }, 'spans not exported at shutdown'))
      logger.info('stopped')
      process.exit(0)
    } catch (error) {
      logger.error({ err: error }, 'unclean stop')
      process.exit(1)
    }
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)

  await app.listen({ host: config.api.http.host, port: config.api.http.port })
}

main().catch((error: unknown) => {
  process.stderr.write(`api failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
