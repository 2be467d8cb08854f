import type postgres from 'postgres'
import type { ImageId } from '../../shared/image/image.ts'

/**
 * The sweeper's statements. Each takes a bounded batch (LIMIT) through a partial index of
 * migrations/0010_lifecycle.sql, oldest first, so a backlog of millions is worked through a
 * batch at a time without a long lock or a large result. Times are the sweeper's clock,
 * passed in, so tests move time instead of waiting.
 */
export function createSweepQueries(sql: postgres.Sql) {
  const at = (date: Date) => date.toISOString()
  return {
    /** Pending uploads old enough to have an object or to have expired (single PUT, or a completed multipart). */
    stalePending: (olderThan: Date, limit: number) =>
      sql<{ id: ImageId; object_key: string; created_at: string; multipart: boolean }[]>`
        SELECT r.id, r.object_key, r.created_at, m.image_id IS NOT NULL AS multipart
        FROM image_records r
        LEFT JOIN multipart_uploads m ON m.image_id = r.id
        WHERE r.status = 'pending' AND r.created_at < ${at(olderThan)}::timestamptz
          AND (m.image_id IS NULL OR m.completed_at < ${at(olderThan)}::timestamptz)
        ORDER BY r.created_at
        LIMIT ${limit}`,

    /** Open multipart uploads past their expiry, or whose record is no longer pending (deleted, erased). */
    abandonedMultipart: (expiredBefore: Date, limit: number) =>
      sql<{ image_id: ImageId; upload_id: string; object_key: string; status: string }[]>`
        SELECT m.image_id, m.upload_id, r.object_key, r.status
        FROM multipart_uploads m JOIN image_records r ON r.id = m.image_id
        WHERE m.completed_at IS NULL AND m.aborted_at IS NULL
          AND (m.expires_at < ${at(expiredBefore)}::timestamptz OR r.status <> 'pending')
        ORDER BY m.expires_at
        LIMIT ${limit}`,

    markMultipartAborted: (imageId: ImageId) =>
      sql`UPDATE multipart_uploads SET aborted_at = now() WHERE image_id = ${imageId} AND completed_at IS NULL AND aborted_at IS NULL`,

    /** Failed and deleted records whose objects were not yet confirmed gone, once no URL can add one. */
    objectsToRemove: (settledBefore: Date, limit: number) =>
      sql<{ id: ImageId; object_key: string; status: 'failed' | 'deleted' }[]>`
        SELECT id, object_key, status FROM image_records
        WHERE status IN ('failed', 'deleted') AND objects_removed_at IS NULL
          AND updated_at < ${at(settledBefore)}::timestamptz
        ORDER BY updated_at
        LIMIT ${limit}`,

    markObjectsRemoved: (ids: readonly ImageId[]) =>
      sql`UPDATE image_records SET objects_removed_at = now() WHERE id = ANY(${ids as ImageId[]}::text[]) AND status IN ('failed', 'deleted')`,

    /** Failed and deleted records past RECORD_RETENTION_DAYS whose objects are gone (multipart rows go with them). */
    purgeRecords: (updatedBefore: Date, limit: number) =>
      sql`
        DELETE FROM image_records WHERE id IN (
          SELECT id FROM image_records
          WHERE status IN ('failed', 'deleted') AND objects_removed_at IS NOT NULL AND updated_at < ${at(updatedBefore)}::timestamptz
          ORDER BY updated_at
          LIMIT ${limit}
        )`,

    /** Ready images older than IMAGE_RETENTION_DAYS. */
    expiredImages: (createdBefore: Date, limit: number) =>
      sql<{ id: ImageId }[]>`
        SELECT id FROM image_records WHERE status = 'ready' AND created_at < ${at(createdBefore)}::timestamptz
        ORDER BY created_at LIMIT ${limit}`,

    /** Rows of an append-only table (audit_events, events, ...) older than its retention, oldest first. */
    purgeOlderThan: (table: RetainedTable, before: Date, limit: number) =>
      sql`
        DELETE FROM ${sql(table)} WHERE id IN (
          SELECT id FROM ${sql(table)} WHERE at < ${at(before)}::timestamptz ORDER BY at LIMIT ${limit}
        )`,

    /** fal webhook records received before `before`: fal retries within 2 hours, so older ones dedupe nothing. */
    purgeFalWebhooks: (before: Date, limit: number) =>
      sql`
        DELETE FROM fal_webhook_deliveries WHERE request_id IN (
          SELECT request_id FROM fal_webhook_deliveries WHERE received_at < ${at(before)}::timestamptz ORDER BY received_at LIMIT ${limit}
        )`,

    /** Finished webhook deliveries (delivered or dead) older than `before`; a pending one is never touched. */
    purgeFinishedDeliveries: (before: Date, limit: number) =>
      sql`
        DELETE FROM webhook_deliveries WHERE event_id IN (
          SELECT event_id FROM webhook_deliveries
          WHERE status <> 'pending' AND finished_at < ${at(before)}::timestamptz ORDER BY finished_at LIMIT ${limit}
        )`,

    /** Owners who asked for erasure and are not done, oldest request first. */
    openErasures: (limit: number) =>
      sql<{ owner_id: string }[]>`
        SELECT owner_id FROM owner_erasures WHERE completed_at IS NULL ORDER BY requested_at LIMIT ${limit}`,

    erasableImages: (ownerId: string, limit: number) =>
      sql<{ id: ImageId }[]>`
        SELECT id FROM image_records WHERE owner_id = ${ownerId} AND status <> 'deleted' ORDER BY id LIMIT ${limit}`,

    /** The owner's API keys go at once: nothing may act for an erased owner. */
    deleteApiKeys: (ownerId: string) => sql`DELETE FROM api_keys WHERE owner_id = ${ownerId}`,

    /** The owner's deleted records whose objects are gone, purged without waiting for retention. */
    purgeErasedRecords: (ownerId: string, limit: number) =>
      sql`
        DELETE FROM image_records WHERE id IN (
          SELECT id FROM image_records
          WHERE owner_id = ${ownerId} AND status IN ('failed', 'deleted') AND objects_removed_at IS NOT NULL
          LIMIT ${limit}
        )`,

    /**
     * The owner's queued and running jobs become `cancelled` at once (few: they are capped per
     * owner): the runner's moves are guarded by the status they leave, so none of them can
     * take such a job further. No event: the job's events go with it.
     */
    cancelOwnerJobs: (ownerId: string) =>
      sql`
        UPDATE processing_jobs SET status = 'cancelled', completed_at = now(), updated_at = now()
        WHERE owner_id = ${ownerId} AND status IN ('queued', 'running')`,

    /** The owner's jobs with a fal request not yet cancelled at fal (fal may still be running it), after `after` in id order. */
    jobsToCancelAtFal: (ownerId: string, after: string, limit: number) =>
      sql<{ id: string; model: string; provider_request_id: string }[]>`
        SELECT id, model, provider_request_id FROM processing_jobs
        WHERE owner_id = ${ownerId} AND status = 'cancelled' AND provider_request_id IS NOT NULL
          AND provider_cancelled_at IS NULL AND id > ${after}
        ORDER BY id LIMIT ${limit}`,

    markProviderCancelled: (jobId: string) =>
      sql`UPDATE processing_jobs SET provider_cancelled_at = coalesce(provider_cancelled_at, now()) WHERE id = ${jobId}`,

    /**
     * The owner's finished jobs, with their events, their webhook deliveries and the record of
     * fal's webhooks for them. A job still to be cancelled at fal stays (unless `keepUncancelled`
     * is false: no fal key to cancel with), and so does one a runner holds (its lease): the
     * runner is between two steps of it and may be about to store a result; once it lets go,
     * it finds the job cancelled and stops.
     */
    purgeErasedJobs: (ownerId: string, keepUncancelled: boolean, limit: number) =>
      sql<{ count: number }[]>`
        WITH gone AS (
          DELETE FROM processing_jobs WHERE id IN (
            SELECT id FROM processing_jobs
            WHERE owner_id = ${ownerId} AND status IN ('succeeded', 'failed', 'cancelled')
              AND (lease_until IS NULL OR lease_until < now())
              AND (NOT ${keepUncancelled}::boolean OR status <> 'cancelled' OR provider_request_id IS NULL OR provider_cancelled_at IS NOT NULL)
            ORDER BY id LIMIT ${limit}
          ) RETURNING id
        ), events_gone AS (
          DELETE FROM events WHERE owner_id = ${ownerId} AND subject_id IN (SELECT id FROM gone)
        ), deliveries_gone AS (
          DELETE FROM webhook_deliveries WHERE subject_id IN (SELECT id FROM gone)
        ), webhooks_gone AS (
          DELETE FROM fal_webhook_deliveries WHERE job_id IN (SELECT id FROM gone)
        )
        SELECT count(*)::int AS count FROM gone`,

    remainingJobs: (ownerId: string) =>
      sql<{ count: number }[]>`SELECT count(*)::int AS count FROM processing_jobs WHERE owner_id = ${ownerId}`,

    remainingRecords: (ownerId: string) =>
      sql<{ count: number }[]>`SELECT count(*)::int AS count FROM image_records WHERE owner_id = ${ownerId}`,

    countErased: (ownerId: string, images: number, apiKeys: number, done: boolean) =>
      sql`
        UPDATE owner_erasures SET
          images_erased = images_erased + ${images},
          api_keys_erased = api_keys_erased + ${apiKeys},
          completed_at = CASE WHEN ${done}::boolean THEN now() ELSE NULL END
        WHERE owner_id = ${ownerId} AND completed_at IS NULL`,
  }
}

/**
 * The append-only tables retention trims, each by its `at` column: audit rows with
 * AUDIT_RETENTION_DAYS, events and webhook delivery attempts with EVENT_RETENTION_DAYS.
 */
export type RetainedTable = 'audit_events' | 'events' | 'webhook_attempts'

export type SweepQueries = ReturnType<typeof createSweepQueries>
