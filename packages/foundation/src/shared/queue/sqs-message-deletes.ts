import type { IncomingMessage } from 'node:http'
import { DeleteMessageCommand, type SQSClient } from '@aws-sdk/client-sqs'
import { SignatureV4 } from '@smithy/signature-v4'
import { AnswerError, createSignedExchange, type ExchangeEndpoint, readErrorBody, type SignedExchange } from '../storage/signed-exchange.ts'

/** Acknowledges one received message: deletes it from its queue. */
export type MessageDeleter = (queueUrl: string, receiptHandle: string) => Promise<void>

/** A non-2xx answer to a DeleteMessage made without the SDK client; `code` is SQS's (`ReceiptHandleIsInvalid`, `QueueDoesNotExist`, ...). */
export class SqsRequestError extends AnswerError {
  override readonly name = 'SqsRequestError'
}

export type SqsMessageDeletesOptions = {
  client: SQSClient
  socketTimeoutMs?: number
  maxAttempts?: number
  backoffBaseMs?: number
}

/**
 * DeleteMessage, one per handled message, made with the SDK's SigV4 signer and credentials
 * but without its client: through the SDK a delete costs about 1 ms of CPU here (0.4 ms without it), most of it
 * middleware, endpoint rules and retry bookkeeping around a 100-byte JSON request
 * (bench/notes.md). The request is the one the SDK sends (AWS JSON 1.0, `AmazonSQS.DeleteMessage`),
 * to the endpoint the SDK would use: the client's configured endpoint, else the queue URL's
 * origin (the SDK's `useQueueUrlAsEndpoint`, on by default). A client that turned that off
 * goes through the SDK as before. One keep-alive agent per endpoint, shared by its queues.
 */
export function createSqsMessageDeletes(options: SqsMessageDeletesOptions): MessageDeleter {
  const { client } = options
  const exchanges = new Map<string, Promise<{ exchange: SignedExchange; path: string } | null>>()
  const viaSdk: MessageDeleter = async (queueUrl, receiptHandle) => {
    await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }))
  }

  const exchangeFor = (queueUrl: string) => {
    const origin = client.config.endpoint === undefined ? new URL(queueUrl).origin : 'configured'
    let known = exchanges.get(origin)
    if (known === undefined) {
      known = resolveEndpoint(client, queueUrl).then(
        (endpoint) => (endpoint === null ? null : { exchange: exchangeTo(endpoint, options), path: endpoint.path }),
        () => {
          exchanges.delete(origin)
          return null
        },
      )
      exchanges.set(origin, known)
    }
    return known
  }

  return async (queueUrl, receiptHandle) => {
    const direct = await exchangeFor(queueUrl)
    if (direct === null) return viaSdk(queueUrl, receiptHandle)
    const response = await direct.exchange({
      method: 'POST',
      path: direct.path,
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.DeleteMessage',
        'x-amzn-query-mode': 'true',
      },
      body: Buffer.from(JSON.stringify({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle })),
    })
    response.resume()
  }
}

type SqsEndpoint = ExchangeEndpoint & { path: string; region: string }

async function resolveEndpoint(client: SQSClient, queueUrl: string): Promise<SqsEndpoint | null> {
  const region = await client.config.region()
  if (client.config.endpoint !== undefined) {
    const configured = await client.config.endpoint()
    return { protocol: configured.protocol, hostname: configured.hostname, port: configured.port, path: configured.path || '/', region }
  }
  if (client.config.useQueueUrlAsEndpoint === false) return null
  const url = new URL(queueUrl)
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  return { protocol: url.protocol, hostname: url.hostname, port: url.port === '' ? undefined : Number(url.port), path: '/', region }
}

function exchangeTo(endpoint: SqsEndpoint, options: SqsMessageDeletesOptions): SignedExchange {
  return createSignedExchange({
    signer: new SignatureV4({
      credentials: options.client.config.credentials,
      region: endpoint.region,
      service: 'sqs',
      sha256: options.client.config.sha256,
    }),
    endpoint,
    answerError: sqsRequestError,
    socketTimeoutMs: options.socketTimeoutMs,
    maxAttempts: options.maxAttempts,
    backoffBaseMs: options.backoffBaseMs,
  })
}

/** SQS's JSON error (`__type`, `message`), or its query-compatible code header. */
async function sqsRequestError(method: string, status: number, response: IncomingMessage): Promise<SqsRequestError> {
  const text = await readErrorBody(response)
  let body: { __type?: unknown; message?: unknown; Message?: unknown } = {}
  try {
    body = JSON.parse(text) as typeof body
  } catch {
    // not JSON: the status and header still classify it
  }
  const header = response.headers['x-amzn-query-error']
  const fromHeader = typeof header === 'string' ? header.split(';')[0] : undefined
  const fromBody = typeof body.__type === 'string' ? body.__type.split('#').at(-1) : undefined
  const code = fromHeader || fromBody || undefined
  const message = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : undefined
  return new SqsRequestError(
    status,
    code,
    `${method} DeleteMessage answered ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`,
  )
}
