-- AI processing jobs (DESIGN "AI processing"). The api inserts a job as 'queued', with its
-- event and audit row in the same transaction; the runner (processor) moves it. Every move is
-- guarded by the status it leaves (UPDATE ... WHERE status = ...), so racing deliveries
-- cannot flip a final state.
CREATE TABLE processing_jobs (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL,
  image_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  -- The fal endpoint the workflow named when the job started: a workflow edited later does
  -- not change what a queued job runs.
  model TEXT NOT NULL,
  -- What the caller sent, and what is submitted (defaults merged in).
  parameters JSONB NOT NULL,
  input JSONB NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  -- Our submissions to the provider (not the client library's own retries).
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  provider_request_id TEXT NULL UNIQUE,
  -- The ids of the results, chosen once before any is stored, so a redelivery after a crash
  -- stores the same results again instead of new ones.
  result_image_ids TEXT[] NOT NULL DEFAULT '{}',
  results_stored_at TIMESTAMPTZ NULL,
  -- {code, message[, results: [{image_id, reason}]]} of a failed job.
  error JSONB NULL,
  idempotency_key TEXT NULL,
  request_fingerprint TEXT NULL,
  -- One runner works on a job at a time; a crashed runner's lease simply runs out.
  lease_until TIMESTAMPTZ NULL,
  provider_cancelled_at TIMESTAMPTZ NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  started_at TIMESTAMPTZ NULL,
  completed_at TIMESTAMPTZ NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT processing_jobs_failed_has_error CHECK (status <> 'failed' OR error IS NOT NULL)
);
-- "My jobs, newest first" (ids are ULIDs: id order is creation order).
CREATE INDEX processing_jobs_owner ON processing_jobs (owner_id, id DESC);
-- The per-owner cap counts these.
CREATE INDEX processing_jobs_active ON processing_jobs (owner_id) WHERE status IN ('queued', 'running');
-- A retried start with the same Idempotency-Key finds its job.
CREATE UNIQUE INDEX processing_jobs_idempotency ON processing_jobs (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- fal retries a webhook up to 10 times in 2 hours: each request_id is handed on once.
CREATE TABLE fal_webhook_deliveries (
  request_id TEXT PRIMARY KEY,
  job_id TEXT NOT NULL,
  received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
