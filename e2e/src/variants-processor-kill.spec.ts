import { type AppProcess, waitFor } from '@image-service/devstack'
import { readCorpusFile } from '@image-service/devstack/corpus'
import { createDatabase, type Database } from '@image-service/foundation'
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { IssuedUpload } from './support/api-client.ts'
import { putUpload } from './support/api-client.ts'
import { useSystem } from './support/use-system.ts'

// Requirement: a processor killed while it writes an upload's variants leaves a record that a
// new processor makes ready once, with every variant, over the same keys and nothing else.
// The kill point is fixed by the S3 emulator: it lets the first variant PUT through and holds
// the others, so the processor dies with one variant stored and the record still pending.
const VISIBILITY_TIMEOUT_SECONDS = 3

const running = useSystem({ visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS })
let database: Database | undefined
beforeAll(() => {
  database = createDatabase({ url: running().stack.database.url, poolMax: 2 })
})
afterAll(async () => {
  await database?.close()
})

test('SIGKILL of the processor between two variant writes: after redelivery the record is ready once, with every variant', async () => {
  const { api, stack, processors } = running()
  const first = processors[0] as AppProcess
  const db = (database as Database).sql

  const hold = stack.s3.holdRequests({ method: 'PUT', keyPrefix: 'variants/' }, { after: 1 })
  const issued = await api.issueUpload('image/png', 'photo.png')
  expect(issued.status, JSON.stringify(issued.body)).toBe(201)
  const upload = issued.body as IssuedUpload
  await putUpload(upload, readCorpusFile('valid-png-rgb-1024x768.png'))

  // The variants are written in parallel: the first is let through and stored, the others wait
  // in the emulator. The kill comes once the first is stored and the second is held.
  const prefix = `variants/${upload.image_id}/`
  await first.whileRunning(hold.held, 'the second variant PUT held')
  await first.whileRunning(
    waitFor(async () => ((await running().listKeys(prefix)).length === 1 ? true : undefined), { description: 'the first variant stored' }),
    'the first variant stored',
  )
  const killed = await first.kill('SIGKILL')
  expect(killed.signal).toBe('SIGKILL')
  // The emulator drops a held request once it sees its client's socket close; releasing before
  // that would let a dead processor's PUT through.
  await waitFor(() => (hold.count() === 0 ? true : undefined), { description: 'the held PUTs dropped with their client' })
  hold.release()
  expect(await running().listKeys(prefix)).toHaveLength(1)
  expect((await api.imageStatus(upload.image_id)).body).toMatchObject({ status: 'pending' })

  await running().startProcessor()
  const final = await api.waitForFinal(upload.image_id)
  expect(final.status).toBe('ready')
  const names = final.variants.map((v) => `${v.name}.${v.format}`).sort()
  expect(names).toEqual(['large.webp', 'medium.webp', 'thumbnail.webp'])
  // The same keys were written again: exactly one object per variant, no stray one.
  expect(await running().listKeys(prefix)).toEqual(names.map((name) => `${prefix}${name}`))
  for (const v of final.variants) {
    expect((await running().readObject(`${prefix}${v.name}.${v.format}`)).bytes.byteLength).toBe(v.size_bytes)
  }
  // One transition: pending, then ready, and no other state on the way.
  const events = await db<{ type: string }[]>`SELECT type FROM events WHERE subject_id = ${upload.image_id} ORDER BY id`
  expect(events.map((e) => e.type)).toEqual(['image.pending', 'image.ready'])
})
