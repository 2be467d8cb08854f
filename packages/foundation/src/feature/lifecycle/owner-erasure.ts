import type postgres from 'postgres'
import { withDatabaseErrors } from '../../shared/database/database-errors.ts'
import { type RequestContext, requireUser } from '../../shared/identity/request-context.ts'

/** Where an owner's erasure stands; `usage` shows it. */
export type ErasureProgress = {
  status: 'running' | 'completed'
  requestedAt: Date
  completedAt: Date | null
  imagesErased: number
  apiKeysErased: number
  /** Records of the owner still in the database (images not yet erased, or erased and not yet purged). */
  recordsRemaining: number
  /**
   * AI jobs of the owner still in the database: their fal requests are cancelled first (a
   * cancel fal does not take is tried again on the next sweep), then they go with their events.
   */
  jobsRemaining: number
}

/**
 * Command: the caller asks for everything of theirs to go (POST owner/erase). Recorded here
 * and done by the sweeper in bounded batches. Asking while one runs changes nothing; asking
 * after one completed starts another (for what was created since).
 */
export function createRequestOwnerErasure(deps: { sql: postgres.Sql }) {
  return async (ctx: RequestContext): Promise<ErasureProgress> => {
    const { ownerId } = requireUser(ctx)
    await withDatabaseErrors(
      () => deps.sql`
        INSERT INTO owner_erasures (owner_id) VALUES (${ownerId})
        ON CONFLICT (owner_id) DO UPDATE SET requested_at = now(), completed_at = NULL, images_erased = 0, api_keys_erased = 0
        WHERE owner_erasures.completed_at IS NOT NULL`,
    )
    const progress = await erasureProgress(deps.sql, ownerId)
    if (progress === null) throw new Error('the erasure just requested is not there')
    return progress
  }
}

/** The owner's latest erasure, or null when none was asked for. */
export async function erasureProgress(sql: postgres.Sql, ownerId: string): Promise<ErasureProgress | null> {
  const [row] = await withDatabaseErrors(
    () => sql<
      {
        requested_at: string
        completed_at: string | null
        images_erased: string
        api_keys_erased: string
        remaining: number
        jobs: number
      }[]
    >`
      SELECT e.requested_at, e.completed_at, e.images_erased, e.api_keys_erased,
             (SELECT count(*)::int FROM image_records r WHERE r.owner_id = e.owner_id) AS remaining,
             (SELECT count(*)::int FROM processing_jobs j WHERE j.owner_id = e.owner_id) AS jobs
      FROM owner_erasures e WHERE e.owner_id = ${ownerId}`,
  )
  if (row === undefined) return null
  return {
    status: row.completed_at === null ? 'running' : 'completed',
    requestedAt: new Date(row.requested_at),
    completedAt: row.completed_at === null ? null : new Date(row.completed_at),
    imagesErased: Number(row.images_erased),
    apiKeysErased: Number(row.api_keys_erased),
    recordsRemaining: row.remaining,
    jobsRemaining: row.jobs,
  }
}
