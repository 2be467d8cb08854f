-- Large uploads and the lifecycle sweeper (DESIGN "Lifecycle").

-- A multipart upload of one image: S3's upload id is kept here, because the S3-compatible
-- stores we run on do not all list uploads (the emulator does not), and the sweeper must find
-- and abort abandoned ones. `expires_at` is the lifetime of the newest part URLs handed out
-- (create or resume); `completed_at` / `aborted_at` end it. Purged with its record.
CREATE TABLE multipart_uploads (
  image_id     TEXT        PRIMARY KEY REFERENCES image_records (id) ON DELETE CASCADE,
  upload_id    TEXT        NOT NULL,
  size_bytes   BIGINT      NOT NULL CHECK (size_bytes > 0),
  part_size    BIGINT      NOT NULL CHECK (part_size > 0),
  created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at   TIMESTAMPTZ NOT NULL,
  completed_at TIMESTAMPTZ NULL,
  aborted_at   TIMESTAMPTZ NULL,
  CHECK (completed_at IS NULL OR aborted_at IS NULL)
);
-- Abandoned uploads: open ones by expiry.
CREATE INDEX multipart_uploads_open ON multipart_uploads (expires_at) WHERE completed_at IS NULL AND aborted_at IS NULL;

-- Pending records by age: expired uploads and lost events (0001 said this index would come
-- with the sweeper).
CREATE INDEX image_records_pending_created ON image_records (created_at) WHERE status = 'pending';

-- When the sweeper last confirmed that a failed or deleted record's objects (the upload and
-- every variants/{id}/ object) are gone. NULL: not yet; a record is purged only after it.
ALTER TABLE image_records ADD COLUMN objects_removed_at TIMESTAMPTZ NULL;
CREATE INDEX image_records_objects_to_remove ON image_records (updated_at)
  WHERE status IN ('failed', 'deleted') AND objects_removed_at IS NULL;
-- Retention: finished records by age, and ready images by age (IMAGE_RETENTION_DAYS).
CREATE INDEX image_records_finished_updated ON image_records (updated_at) WHERE status IN ('failed', 'deleted');
CREATE INDEX image_records_ready_created ON image_records (created_at) WHERE status = 'ready';

-- Retention of the audit trail and the event log, oldest first.
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX events_at ON events (at);

-- Owner erasure (POST owner/erase): one row per owner asking; the sweeper works through it in
-- bounded batches and counts what it removed; `usage` shows it. Asking again while one runs
-- changes nothing; asking after it finished starts a new one.
CREATE TABLE owner_erasures (
  owner_id       TEXT        PRIMARY KEY,
  requested_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  completed_at   TIMESTAMPTZ NULL,
  images_erased  BIGINT      NOT NULL DEFAULT 0,
  api_keys_erased BIGINT     NOT NULL DEFAULT 0
);
