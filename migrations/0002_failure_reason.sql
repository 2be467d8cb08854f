-- Why the processor refused an upload. The set of reasons is owned by the application
-- (FailureReason in foundation) and may grow, so it is not enumerated here; what the
-- database does guarantee is that a reason exists exactly when the record has failed.
ALTER TABLE image_records
  ADD COLUMN failure_reason TEXT NULL,
  ADD CONSTRAINT image_records_failure_reason_iff_failed
    CHECK ((status = 'failed') = (failure_reason IS NOT NULL));
