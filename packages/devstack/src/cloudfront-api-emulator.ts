import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'

export type CloudFrontApiEmulator = {
  /** Give it to CloudFrontClient as `endpoint`. */
  endpoint: string
  distributionId: string
  /** Every invalidated path, in the order the batches arrived. */
  invalidatedPaths(): string[]
  /** How many CreateInvalidation calls arrived, refused ones included. */
  calls(): number
  /** The next n calls answer TooManyInvalidationsInProgress, as CloudFront does while busy. */
  throttleNext(n: number): void
  stop(): Promise<void>
}

/**
 * The part of CloudFront's control API the service uses: CreateInvalidation
 * (POST /2020-05-31/distribution/{id}/invalidation), recorded instead of done.
 */
export async function startCloudFrontApiEmulator(options: { distributionId?: string } = {}): Promise<CloudFrontApiEmulator> {
  const distributionId = options.distributionId ?? 'EDEVSTACK0001'
  const paths: string[] = []
  let throttled = 0
  let calls = 0

  const server = createServer(async (req, res) => {
    const match = /^\/2020-05-31\/distribution\/([^/]+)\/invalidation$/.exec(req.url ?? '')
    if (req.method !== 'POST' || match === null) {
      res.writeHead(404, { 'content-type': 'text/xml' })
      return res.end(errorXml('NoSuchResource', 'not found'))
    }
    calls += 1
    const body = await readBody(req)
    if (match[1] !== distributionId) {
      res.writeHead(404, { 'content-type': 'text/xml' })
      return res.end(errorXml('NoSuchDistribution', 'The specified distribution does not exist.'))
    }
    if (throttled > 0) {
      throttled -= 1
      res.writeHead(400, { 'content-type': 'text/xml' })
      return res.end(
        errorXml(
          'TooManyInvalidationsInProgress',
          'Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations.',
        ),
      )
    }
    const items = [...body.matchAll(/<Path>([^<]*)<\/Path>/g)].map((m) => decodeXml(m[1] ?? ''))
    paths.push(...items)
    const id = `I${randomBytes(6).toString('hex').toUpperCase()}`
    res.writeHead(201, { 'content-type': 'text/xml', location: `/2020-05-31/distribution/${distributionId}/invalidation/${id}` })
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>${id}</Id><Status>InProgress</Status><CreateTime>${new Date().toISOString()}</CreateTime><InvalidationBatch><Paths><Quantity>${items.length}</Quantity></Paths><CallerReference>x</CallerReference></InvalidationBatch></Invalidation>`,
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    distributionId,
    invalidatedPaths: () => [...paths],
    calls: () => calls,
    throttleNext(n) {
      throttled = n
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomBytes(8).toString('hex')}</RequestId></ErrorResponse>`
}

function decodeXml(text: string): string {
  return text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&apos;', "'").replaceAll('&amp;', '&')
}
