-- fal can answer a job's webhook before the runner has stored the job's request id (the
-- submit's answer and the webhook race). Such a webhook is kept without a job, so the runner,
-- once it stores the request id, finds it and follows the job at once instead of waiting
-- FAL_WEBHOOK_TIMEOUT_SECONDS for a webhook that already came.
ALTER TABLE fal_webhook_deliveries ALTER COLUMN job_id DROP NOT NULL;
CREATE INDEX fal_webhook_deliveries_received ON fal_webhook_deliveries (received_at);
