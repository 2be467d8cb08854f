import { newImageId } from '@image-service/foundation'
import type postgres from 'postgres'

/**
 * Inserts image records as the api would have saved them, each for the owner given at its
 * position, in one multi-row INSERT per call. The owner is written to `owner_id` when the
 * schema has that column (asked once), so the same seed serves schemas before and after it.
 */
export type Seeder = {
  /** `ready` records, one per entry of `owners`; signing does not touch storage, so no objects exist. */
  ready(owners: readonly string[]): Promise<string[]>
  /** `pending` records for the processor scenario, one per entry of `owners`. */
  pending(owners: readonly string[], contentType: string): Promise<string[]>
}

export async function createSeeder(sql: postgres.Sql): Promise<Seeder> {
  const [column] = await sql`
    SELECT 1 FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'image_records' AND column_name = 'owner_id'`
  const withOwner = column !== undefined
  const insert = async (owners: readonly string[], record: (id: string) => Record<string, string | number>) => {
    const ids = owners.map(() => newImageId())
    const rows = ids.map((id, i) => ({ ...record(id), ...(withOwner ? { owner_id: owners[i] as string } : {}) }))
    if (rows.length > 0) await sql`INSERT INTO image_records ${sql(rows)}`
    return ids
  }
  return {
    ready: (owners) =>
      insert(owners, (id) => ({
        id,
        status: 'ready',
        content_type: 'image/png',
        file_name: 'bench.png',
        size_bytes: 328,
        object_key: `uploads/${id}`,
      })),
    pending: (owners, contentType) =>
      insert(owners, (id) => ({ id, status: 'pending', content_type: contentType, file_name: 'bench.png', object_key: `uploads/${id}` })),
  }
}

/** `count` owners taken in turn from `owners`: image i belongs to owners[i % owners.length]. */
export function roundRobin(owners: readonly string[], count: number): string[] {
  return Array.from({ length: count }, (_, i) => owners[i % owners.length] as string)
}

/** Random distinct picks from the working set; rejection sampling is cheap for 50 of 5,000. */
export function pickDistinct(ids: readonly string[], count: number): string[] {
  const picked = new Set<string>()
  const n = Math.min(count, ids.length)
  while (picked.size < n) picked.add(ids[Math.floor(Math.random() * ids.length)] as string)
  return [...picked]
}
