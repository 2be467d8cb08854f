-- Quotas (DESIGN "Quotas, rate limits, audit"): one row per owner counts what the owner's
-- `pending` and `ready` images hold. `images` counts both; `bytes` is the real size of the
-- ready ones; `reserved_bytes` is what the pending ones reserved at issuance. Presign checks
-- and reserves in one guarded statement on this row; every status change that ends or
-- converts a reservation updates it in the same statement as the status.
CREATE TABLE owner_usage (
  owner_id TEXT PRIMARY KEY,
  images BIGINT NOT NULL DEFAULT 0 CHECK (images >= 0),
  bytes BIGINT NOT NULL DEFAULT 0 CHECK (bytes >= 0),
  reserved_bytes BIGINT NOT NULL DEFAULT 0 CHECK (reserved_bytes >= 0)
);

-- What this record reserved when it was issued (its declared size, or MAX_UPLOAD_BYTES), so
-- the release is exact. It is kept after the record leaves `pending`; the status says
-- whether it still counts. Records from before quotas reserved nothing.
ALTER TABLE image_records ADD COLUMN reserved_bytes BIGINT NOT NULL DEFAULT 0 CHECK (reserved_bytes >= 0);

-- Existing images count from the start.
INSERT INTO owner_usage (owner_id, images, bytes, reserved_bytes)
SELECT owner_id,
       count(*) FILTER (WHERE status IN ('pending', 'ready')),
       coalesce(sum(size_bytes) FILTER (WHERE status = 'ready'), 0),
       0
FROM image_records
GROUP BY owner_id;

-- A deleted image keeps the failure reason it had: deleting a failed upload broke
-- image_records_failure_reason_iff_failed. Failed still requires a reason, and pending or
-- ready never has one.
ALTER TABLE image_records DROP CONSTRAINT IF EXISTS image_records_failure_reason_iff_failed;
ALTER TABLE image_records
  ADD CONSTRAINT image_records_failure_reason_iff_failed CHECK (
    CASE status WHEN 'failed' THEN failure_reason IS NOT NULL WHEN 'deleted' THEN true ELSE failure_reason IS NULL END
  );
