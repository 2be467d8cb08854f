-- Who did what (DESIGN "Quotas, rate limits, audit"). A state change writes its audit row in
-- the same statement as the change; download.signed writes one row per request.
-- `actor` is {"type":"user","id":…,"via":…[,"api_key_id":…]} or {"type":"system","name":…}.
CREATE TABLE audit_events (
  id BIGSERIAL PRIMARY KEY,
  at TIMESTAMPTZ NOT NULL DEFAULT now(),
  actor JSONB NOT NULL,
  owner_id TEXT NOT NULL,
  action TEXT NOT NULL,
  image_id TEXT NULL,
  request_id TEXT NOT NULL,
  client_ip TEXT NULL,
  detail JSONB NOT NULL DEFAULT '{}'::jsonb
);
-- The audit route: an owner's rows (or one image's), newest first, by keyset on id.
CREATE INDEX audit_events_owner ON audit_events (owner_id, id DESC);
CREATE INDEX audit_events_image ON audit_events (image_id, id DESC) WHERE image_id IS NOT NULL;

-- The event log (DESIGN "Events"): every state change of an image appends one, in the same
-- statement as the change. Ids come from a sequence: they increase in the order rows are
-- inserted, which is not strictly the order transactions commit (a later id can commit
-- first), so a reader that resumes from an id must allow for a short window of stragglers.
CREATE TABLE events (
  id BIGSERIAL PRIMARY KEY,
  type TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  at TIMESTAMPTZ NOT NULL DEFAULT now(),
  data JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_owner ON events (owner_id, id);
