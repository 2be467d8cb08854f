import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyBaseLogger } from 'fastify'
import { errorBody } from './errors.ts'
import { MAX_HEADER_BYTES } from './server-options.ts'

type Answer = { statusCode: number; code: string; message: string }

// After answering, the socket stays open this long at most for the client to read the answer and
// close. Closing at once, with request bytes still unread, makes the kernel send a reset that
// can destroy the answer before the client reads it.
const LINGER_MS = 2000

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (inject() never gets
 * here): headers over the limit, a request not received in time, anything that is not HTTP/1.1.
 * Same JSON error shape and stable codes as every other error, then the connection is closed.
 * The raw packet is never logged: it holds the request's headers, credentials included.
 */
export function createClientErrorHandler(deps: {
  log: FastifyBaseLogger
  requestTimeoutSeconds: number
  onRefused?: (code: string) => void
}) {
  const answers: Record<string, Answer> = {
    HPE_HEADER_OVERFLOW: { statusCode: 431, code: 'HEADERS_TOO_LARGE', message: `request headers exceed ${MAX_HEADER_BYTES} bytes` },
    HPE_CHUNK_EXTENSIONS_OVERFLOW: { statusCode: 413, code: 'CHUNK_EXTENSIONS_TOO_LARGE', message: 'chunk extensions exceed the limit' },
    ERR_HTTP_REQUEST_TIMEOUT: {
      statusCode: 408,
      code: 'REQUEST_TIMEOUT',
      message: `the request was not received within ${deps.requestTimeoutSeconds} s`,
    },
  }
  const malformed: Answer = { statusCode: 400, code: 'MALFORMED_REQUEST', message: 'the request is not valid HTTP/1.1' }
  // The parser reports its error again for every later chunk of the same connection.
  const answered = new WeakSet<Socket>()

  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return
    answered.add(socket)
    // A response already started (or a client already gone) cannot take another one.
    const current = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage
    if (!socket.writable || current?.headersSent === true) {
      deps.log.debug({ parserCode: error.code }, 'connection dropped by the HTTP parser')
      socket.destroy()
      return
    }
    const answer = answers[error.code ?? ''] ?? malformed
    deps.log.info({ code: answer.code, statusCode: answer.statusCode, parserCode: error.code }, 'request refused by the HTTP parser')
    deps.onRefused?.(answer.code)
    socket.end(rawResponse(answer))
    const linger = setTimeout(() => socket.destroy(), LINGER_MS)
    linger.unref()
    socket.once('close', () => clearTimeout(linger))
  }
}

function rawResponse(answer: Answer): string {
  const body = JSON.stringify(errorBody(answer.statusCode, answer.code, answer.message))
  return [
    `HTTP/1.1 ${answer.statusCode} ${STATUS_CODES[answer.statusCode] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    'cache-control: no-store',
    'x-content-type-options: nosniff',
    '',
    body,
  ].join('\r\n')
}
