-- One row per upload. The API inserts it as 'pending' before handing out the presigned URL;
-- the processor moves it once, to 'ready' or 'failed' (UPDATE ... WHERE status = 'pending').
-- updated_at is set explicitly by every UPDATE (no trigger), so the rule lives in one place.
CREATE TABLE image_records (
  id           TEXT        PRIMARY KEY,
  status       TEXT        NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
  content_type TEXT        NOT NULL,
  file_name    TEXT        NOT NULL,
  -- Unknown until the processor has measured the stored object.
  size_bytes   BIGINT      NULL CHECK (size_bytes IS NULL OR size_bytes >= 0),
  object_key   TEXT        NOT NULL UNIQUE,
  created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- A ready image has been measured; downloads and metadata rely on it.
  CONSTRAINT image_records_ready_has_size CHECK (status <> 'ready' OR size_bytes IS NOT NULL)
);

-- No index on status: every query looks records up by primary key (single id, id = ANY(...),
-- and the pending-only UPDATE, whose status predicate is checked on the one row the key finds).
-- A three-valued column indexed for no query would only slow every write. Should a sweeper
-- for abandoned pending uploads appear, a partial index (created_at) WHERE status = 'pending'
-- is the one to add then.
