import type postgres from 'postgres'
import type { BenchOwner } from './owners.ts'

export type EventsResult = { count: number; streams: number; p50Ms: number; p99Ms: number; maxMs: number; pollIntervalMs: number }

/**
 * Commit to SSE delivery: `streams` owners keep a stream open on the api; events are appended
 * one at a time (a plain INSERT, as each state change appends in its own statement: the
 * INSERT's answer is its commit), and each one's latency is the time from that answer to
 * its arrival on its owner's stream. One at a time, each after a random pause, so the figure
 * is the pipeline's latency (where the commit falls in the poll interval, plus the query),
 * not a queue's.
 */
export async function runEventsScenario(
  baseUrl: string,
  sql: postgres.Sql,
  owners: readonly BenchOwner[],
  options: { count: number; pollIntervalMs: number },
): Promise<EventsResult> {
  const waiting = new Map<string, (at: number) => void>()
  const aborts: AbortController[] = []
  const readers = owners.map(async (owner) => {
    const abort = new AbortController()
    aborts.push(abort)
    const response = await fetch(`${baseUrl}/api/image/v1/events/stream`, {
      headers: { authorization: owner.authorization },
      signal: abort.signal,
    })
    if (response.status !== 200 || response.body === null) throw new Error(`the event stream answered ${response.status}`)
    const decoder = new TextDecoder()
    let buffer = ''
    let opened: () => void = () => {}
    const ready = new Promise<void>((resolve) => {
      opened = resolve
    })
    const read = (async () => {
      try {
        for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true })
          let end = buffer.indexOf('\n\n')
          while (end >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            end = buffer.indexOf('\n\n')
            if (block.startsWith('retry:')) opened()
            const data = block.split('\n').find((line) => line.startsWith('data: '))
            if (data === undefined) continue
            const subject = (JSON.parse(data.slice(6)) as { subject_id: string }).subject_id
            waiting.get(subject)?.(performance.now())
          }
        }
      } catch {
        // aborted at the end
      }
    })()
    await ready
    // Wrapped: an async function returning the promise itself would wait for the stream's end.
    return { read }
  })
  const reading = (await Promise.all(readers)).map((reader) => reader.read)

  const latencies: number[] = []
  try {
    for (let i = 0; i < options.count; i++) {
      const owner = owners[i % owners.length] as BenchOwner
      const subject = `bench-event-${i}`
      // Commits land at any point of the poll cycle, as real ones do, not just after a delivery.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * options.pollIntervalMs * 1.5))
      const arrived = new Promise<number>((resolve) => waiting.set(subject, resolve))
      await sql`INSERT INTO events (type, subject_id, owner_id) VALUES ('job.queued', ${subject}, ${owner.subject})`
      const committed = performance.now()
      latencies.push((await arrived) - committed)
      waiting.delete(subject)
    }
  } finally {
    for (const abort of aborts) abort.abort()
    await Promise.all(reading)
  }
  latencies.sort((a, b) => a - b)
  const at = (q: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 10) / 10
  return {
    count: options.count,
    streams: owners.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: at(1),
    pollIntervalMs: options.pollIntervalMs,
  }
}
