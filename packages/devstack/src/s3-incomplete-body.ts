import type { Server } from 'node:http'
import type { Socket } from 'node:net'

/**
 * A body that ends before its Content-Length, or stops arriving, answered as S3 answers it.
 * Without this, a client that half-closes gets Node's bare 400 (no S3 error code), and one
 * that stalls holds the request open until Node's five-minute request timeout: s3rver waits
 * for bytes that never come. S3 answers 400 IncompleteBody for the first, and 400
 * RequestTimeout once the body has been idle for about 20 s. A body that is short and signed
 * (Content-Length in X-Amz-SignedHeaders) is refused before this, with 403, by the signature.
 */
export function answerIncompleteBodies(server: Server, idleTimeoutMs: number): void {
  const busy = new WeakSet<Socket>()
  server.on('request', (req, res) => {
    busy.add(req.socket)
    res.once('finish', () => busy.delete(req.socket))
    res.once('close', () => busy.delete(req.socket))
  })
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const incomplete = error.code === 'HPE_INVALID_EOF_STATE' || error.code === 'ECONNRESET'
    answer(socket, incomplete ? IncompleteBody : BadRequest)
  })
  server.timeout = idleTimeoutMs
  server.on('timeout', (socket: Socket) => {
    // An idle keep-alive connection is simply closed; a request waiting for its body is answered.
    if (busy.has(socket)) answer(socket, RequestTimeout)
    else socket.destroy()
  })
}

const IncompleteBody = ['IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.'] as const
const RequestTimeout = [
  'RequestTimeout',
  'Your socket connection to the server was not read from or written to within the timeout period.',
] as const
const BadRequest = ['BadRequest', 'The request could not be parsed.'] as const

function answer(socket: Socket, [code, message]: readonly [string, string]): void {
  if (socket.writable) {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  } else {
    socket.destroy()
  }
}
