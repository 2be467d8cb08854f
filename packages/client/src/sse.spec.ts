import { describe, expect, test } from 'vitest'
import { readSse, type SseMessage } from './sse.ts'

/** A body delivered in exactly these chunks, as a network would split it. */
function body(...chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk)
      controller.close()
    },
  })
}

async function read(stream: ReadableStream<Uint8Array>): Promise<SseMessage[]> {
  const messages: SseMessage[] = []
  for await (const message of readSse(stream)) messages.push(message)
  return messages
}

describe('readSse', () => {
  test("reads the api's messages: retry, heartbeats, id and one-line JSON data", async () => {
    const messages = await read(
      body(
        'retry: 2000\n\n',
        ': heartbeat\n\n',
        'id: 812-1\ndata: {"id":"812-1","type":"image.ready"}\n\n',
        'id: 812-2\ndata: {"id":"812-2"}\n\n',
      ),
    )
    expect(messages).toEqual([
      { id: '812-1', event: 'message', data: '{"id":"812-1","type":"image.ready"}' },
      { id: '812-2', event: 'message', data: '{"id":"812-2"}' },
    ])
  })

  test('joins multi-line data, keeps the event type, and the id persists until set again', async () => {
    const messages = await read(body('event: reset\ndata: a\ndata:b\nid: 7\n\ndata: c\n\nid\ndata: d\n\n'))
    expect(messages).toEqual([
      { id: '7', event: 'reset', data: 'a\nb' },
      { id: '7', event: 'message', data: 'c' },
      { id: undefined, event: 'message', data: 'd' },
    ])
  })

  test('lines end in CRLF, LF or CR, also when a chunk ends between CR and LF', async () => {
    const messages = await read(body('data: one\r', '\n\r', '\ndata: two\r\rdata: three\n', '\n'))
    expect(messages.map((m) => m.data)).toEqual(['one', 'two', 'three'])
  })

  test('a character split across chunks is decoded whole', async () => {
    const bytes = new TextEncoder().encode('data: café\n\n')
    const cut = bytes.indexOf(0xc3) + 1
    const messages = await read(body(bytes.subarray(0, cut), bytes.subarray(cut)))
    expect(messages.map((m) => m.data)).toEqual(['café'])
  })

  test('a message cut off by the end of the stream, and one without data, are not dispatched', async () => {
    const messages = await read(body('id: 1\n\n', 'data: whole\n\n', 'data: cut off'))
    expect(messages.map((m) => m.data)).toEqual(['whole'])
  })
})
