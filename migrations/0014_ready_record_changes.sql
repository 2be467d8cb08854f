-- Replicas of the api keep `ready` image records in memory (IMAGE_RECORD_CACHE_SIZE): a ready
-- record only changes by leaving `ready` (deleted, failed as replaced) or by being removed.
-- Each such change announces the record's id on the `image_record_changes` channel when its
-- transaction commits, whichever process made it, and every listening replica forgets the
-- record. Changes to records that were not ready (pending -> ready, the sweeper's marks on
-- failed and deleted records) announce nothing: no replica keeps those.
CREATE FUNCTION announce_ready_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('image_record_changes', OLD.id);
  RETURN NULL;
END
$$;

CREATE TRIGGER image_records_ready_changed
  AFTER UPDATE OR DELETE ON image_records
  FOR EACH ROW WHEN (OLD.status = 'ready')
  EXECUTE FUNCTION announce_ready_record_change();
