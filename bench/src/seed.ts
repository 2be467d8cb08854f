import { newImageId } from '@image-service/foundation'
import type postgres from 'postgres'

/**
 * Inserts `count` ready image records in one multi-row INSERT and returns their ids: the
 * working set of the download scenarios. Signing does not touch storage, so no objects exist.
 */
export async function seedReadyImages(sql: postgres.Sql, count: number): Promise<string[]> {
  const rows = Array.from({ length: count }, () => {
    const id = newImageId()
    return { id, status: 'ready', content_type: 'image/png', file_name: 'bench.png', size_bytes: 328, object_key: `uploads/${id}` }
  })
  await sql`INSERT INTO image_records ${sql(rows)}`
  return rows.map((r) => r.id)
}

/** Pending records for the processor scenario, as the API would have saved them. */
export async function seedPendingImages(sql: postgres.Sql, count: number, contentType: string): Promise<string[]> {
  const rows = Array.from({ length: count }, () => {
    const id = newImageId()
    return { id, status: 'pending', content_type: contentType, file_name: 'bench.png', object_key: `uploads/${id}` }
  })
  await sql`INSERT INTO image_records ${sql(rows)}`
  return rows.map((r) => r.id)
}

/** Random distinct picks from the working set; rejection sampling is cheap for 50 of 5,000. */
export function pickDistinct(ids: readonly string[], count: number): string[] {
  const picked = new Set<string>()
  const n = Math.min(count, ids.length)
  while (picked.size < n) picked.add(ids[Math.floor(Math.random() * ids.length)] as string)
  return [...picked]
}
