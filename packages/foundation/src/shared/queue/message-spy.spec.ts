import { describe, expect, it } from 'vitest'
import type { ProcessedMessage } from './message.ts'
import { createMessageSpy } from './message-spy.ts'

const event = (messageId: string, outcome: 'ack' | 'retry', subjectId?: string): ProcessedMessage => ({
  queue: 'q',
  messageId,
  receiveCount: 1,
  outcome,
  subjects: subjectId === undefined ? [] : [{ id: subjectId, outcome: 'ready' }],
  durationMs: 1,
  settled: true,
})

describe('createMessageSpy', () => {
  it('finds a message heard before the wait, by message id or subject id', async () => {
    const spy = createMessageSpy()
    spy.listener(event('m1', 'ack', 'image-1'))
    expect((await spy.waitForMessage('m1')).messageId).toBe('m1')
    expect((await spy.waitForMessage('image-1', 'ack')).messageId).toBe('m1')
  })

  it('waits for the outcome asked for, ignoring other outcomes of the same message', async () => {
    const spy = createMessageSpy()
    const acked = spy.waitForMessage('m1', 'ack')
    spy.listener(event('m1', 'retry'))
    spy.listener(event('m2', 'ack'))
    spy.listener(event('m1', 'ack'))
    expect(await acked).toMatchObject({ messageId: 'm1', outcome: 'ack' })
    expect(spy.messages.map((m) => m.messageId)).toEqual(['m1', 'm2', 'm1'])
  })

  it('takes a predicate, and rejects naming what it heard when nothing matches in time', async () => {
    const spy = createMessageSpy({ capacity: 2 })
    spy.listener(event('a', 'ack'))
    spy.listener(event('b', 'ack'))
    spy.listener(event('c', 'retry'))
    expect(spy.messages.map((m) => m.messageId)).toEqual(['b', 'c'])
    expect((await spy.waitForMessage((m) => m.outcome === 'retry')).messageId).toBe('c')
    await expect(spy.waitForMessage('zzz', 'ack', { timeoutMs: 10 })).rejects.toThrow(/no ack message for zzz .*heard: b:ack, c:retry/)
  })
})
