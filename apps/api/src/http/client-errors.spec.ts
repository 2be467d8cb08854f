import type { AddressInfo } from 'node:net'
import { connect, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ApiApp } from '../app.ts'
import { parsePrometheusText, sampleValue } from '../testing/prometheus-text.ts'
import { startTestApi, type TestApi } from '../testing/test-api.ts'
import { createClientErrorHandler } from './client-errors.ts'

type RawResponse = { status: number; headers: Record<string, string>; body: unknown }

/**
 * Talks HTTP over a bare TCP socket (inject() and fetch() would never send what these tests
 * send) and resolves once the server has closed the connection, with what it answered.
 */
function exchange(port: number, talk: (socket: Socket) => void): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const raw = Buffer.concat(chunks).toString()
      const [head = '', ...rest] = raw.split('\r\n\r\n')
      const [statusLine = '', ...headerLines] = head.split('\r\n')
      const headers = Object.fromEntries(
        headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      )
      const text = rest.join('\r\n\r\n')
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: text === '' ? undefined : JSON.parse(text) })
    })
    socket.once('connect', () => talk(socket))
  })
}

/** Writes one byte at a time, `everyMs` apart, until the server closes the connection. */
function trickle(socket: Socket, byte: string, everyMs: number): void {
  const timer = setInterval(() => {
    if (socket.writable) socket.write(byte)
  }, everyMs)
  socket.once('close', () => clearInterval(timer))
}

describe('answers from the HTTP parser, over real HTTP', () => {
  let api: TestApi
  let app: ApiApp
  let port: number

  beforeAll(async () => {
    api = await startTestApi(inject('databaseServerUrl'), 'spec-api-client-errors')
    app = await api.variant({ REQUEST_TIMEOUT_SECONDS: '1' })
    await app.listen({ host: '127.0.0.1', port: 0 })
    port = (app.server.address() as AddressInfo).port
  })
  afterAll(async () => {
    await api?.close()
  })

  const refusals = async (code: string) =>
    sampleValue(parsePrometheusText((await app.inject({ method: 'GET', url: '/metrics' })).body), 'http_server_parser_refusals_total', {
      code,
    }) ?? 0

  it('answers 431 HEADERS_TOO_LARGE in the error shape to 100 KB of headers, and closes', async () => {
    const before = await refusals('HEADERS_TOO_LARGE')
    const response = await exchange(port, (socket) => {
      socket.write(`GET /api/health/liveness HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${'a'.repeat(100_000)}\r\n\r\n`)
    })
    expect(response.status).toBe(431)
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(response.headers.connection).toBe('close')
    expect(response.body).toEqual({
      statusCode: 431,
      error: 'Request Header Fields Too Large',
      code: 'HEADERS_TOO_LARGE',
      message: 'request headers exceed 16384 bytes',
    })
    expect(await refusals('HEADERS_TOO_LARGE')).toBe(before + 1)
  })

  it('answers the same 431 to fetch', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/api/health/liveness`, { headers: { 'x-padding': 'a'.repeat(100_000) } })
    expect(response.status).toBe(431)
    expect(await response.json()).toMatchObject({ statusCode: 431, code: 'HEADERS_TOO_LARGE' })
  })

  it('lets a 15 KB bearer token through the header limit', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/api/health/liveness`, {
      headers: { authorization: `Bearer ${'a'.repeat(15 * 1024)}` },
    })
    expect(response.status).toBe(200)
  })

  it('answers 400 MALFORMED_REQUEST to a request line that is not HTTP', async () => {
    const before = await refusals('MALFORMED_REQUEST')
    const response = await exchange(port, (socket) => socket.write('HELLO THERE\r\n\r\n'))
    expect(response.status).toBe(400)
    expect(response.headers.connection).toBe('close')
    expect(response.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'MALFORMED_REQUEST',
      message: 'the request is not valid HTTP/1.1',
    })
    expect(await refusals('MALFORMED_REQUEST')).toBe(before + 1)
  })

  it('answers 408 REQUEST_TIMEOUT to a client trickling its body past REQUEST_TIMEOUT_SECONDS, and closes', async () => {
    const before = await refusals('REQUEST_TIMEOUT')
    // Authenticated, so the request gets past the credential check and waits for its body.
    const authorization = `Bearer ${await api.token()}`
    const response = await exchange(port, (socket) => {
      socket.write(
        `POST /api/image/v1/upload/create-presigned-url HTTP/1.1\r\nhost: localhost\r\nauthorization: ${authorization}\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n{`,
      )
      // Always some bytes arriving: an idle timeout would never fire, only the request deadline.
      trickle(socket, ' ', 50)
    })
    expect(response.status).toBe(408)
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(response.headers.connection).toBe('close')
    expect(response.body).toEqual({
      statusCode: 408,
      error: 'Request Timeout',
      code: 'REQUEST_TIMEOUT',
      message: 'the request was not received within 1 s',
    })
    expect(await refusals('REQUEST_TIMEOUT')).toBe(before + 1)
    expect(await api.countRecords()).toBe(0)
  })

  it('answers 408 REQUEST_TIMEOUT to a client trickling its headers', async () => {
    const response = await exchange(port, (socket) => {
      socket.write('GET /api/health/liveness HTTP/1.1\r\nhost: localhost\r\nx-slow: ')
      trickle(socket, 'a', 50)
    })
    expect(response.status).toBe(408)
    expect(response.body).toMatchObject({ statusCode: 408, code: 'REQUEST_TIMEOUT' })
  })

  it('still serves a keep-alive client one request after another', async () => {
    const first = await fetch(`http://127.0.0.1:${port}/api/health/liveness`)
    const second = await fetch(`http://127.0.0.1:${port}/api/health/liveness`)
    expect([first.status, second.status]).toEqual([200, 200])
  })
})

describe('the client error log line', () => {
  it('names the code and never carries the request bytes (credentials among them)', async () => {
    const lines: string[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString())
        done()
      },
    })
    let handler: ReturnType<typeof createClientErrorHandler> | undefined
    const app = Fastify({ logger: { level: 'trace', stream }, clientErrorHandler: (error, socket) => handler?.(error, socket) })
    handler = createClientErrorHandler({ log: app.log, requestTimeoutSeconds: 30 })
    await app.listen({ host: '127.0.0.1', port: 0 })
    try {
      const secret = `secret-${'s'.repeat(20_000)}`
      const response = await exchange((app.server.address() as AddressInfo).port, (socket) => {
        socket.write(`GET / HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${secret}\r\n\r\n`)
      })
      expect(response.status).toBe(431)
      const refused = lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.msg === 'request refused by the HTTP parser')
      expect(refused).toEqual([
        expect.objectContaining({ level: 30, code: 'HEADERS_TOO_LARGE', statusCode: 431, parserCode: 'HPE_HEADER_OVERFLOW' }),
      ])
      expect(lines.join('\n')).not.toContain('secret-')
    } finally {
      await app.close()
    }
  })
})
