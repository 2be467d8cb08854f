-- Every image belongs to an owner: the `sub` of the token (or the API key's owner) that
-- issued it. Every query is scoped to it.
--
-- Rows created before ownership existed belong to the owner 'legacy'. No token has that
-- `sub` unless an identity provider issues it, so those images are reachable only by an
-- admin (images:admin) until an operator hands them to their real owner:
--   UPDATE image_records SET owner_id = '<sub>' WHERE owner_id = 'legacy' AND <which rows>;
-- (docs/operations.md, "Upgrading to owned images").
ALTER TABLE image_records ADD COLUMN owner_id TEXT NULL;
UPDATE image_records SET owner_id = 'legacy' WHERE owner_id IS NULL;
ALTER TABLE image_records ALTER COLUMN owner_id SET NOT NULL;

-- The caller's own key/value strings (at most 10, checked by the application).
ALTER TABLE image_records ADD COLUMN labels JSONB NOT NULL DEFAULT '{}'::jsonb;

-- Derived images (AI results) name their source and job; NULL for direct uploads.
ALTER TABLE image_records
  ADD COLUMN source_image_id TEXT NULL,
  ADD COLUMN job_id TEXT NULL;

-- A deleted image keeps its record (the status route answers `deleted`) until it is purged.
ALTER TABLE image_records DROP CONSTRAINT image_records_status_check;
ALTER TABLE image_records
  ADD CONSTRAINT image_records_status_check CHECK (status IN ('pending', 'ready', 'failed', 'deleted'));

-- "My images, newest first": ids are ULIDs, so id order is creation order and the keyset
-- cursor is the last id of a page.
CREATE INDEX image_records_owner_id ON image_records (owner_id, id DESC);
-- label.<key>=<value> filters: labels @> '{"key":"value"}'.
CREATE INDEX image_records_labels ON image_records USING gin (labels jsonb_path_ops);
CREATE INDEX image_records_source ON image_records (source_image_id) WHERE source_image_id IS NOT NULL;
