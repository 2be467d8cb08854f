-- The ETag of the object the processor approved, set when a record turns 'ready'. An event
-- for a ready record whose object now has another ETag means the bytes were replaced (on a
-- store that ignores If-None-Match): the record is failed with the reason 'replaced'
-- (UPDATE ... WHERE status = 'ready' AND etag = <approved>), then the object is deleted.
-- NULL while pending, and for records that turned ready before this column existed.
ALTER TABLE image_records ADD COLUMN etag TEXT NULL;
