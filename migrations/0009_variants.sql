-- Variants (DESIGN "Variants"): what the processor derived from a validated original, set in
-- the same statement that marks the record ready.
-- width / height: the original as displayed, after EXIF rotation (null until ready).
ALTER TABLE image_records ADD COLUMN width INTEGER NULL CHECK (width > 0);
ALTER TABLE image_records ADD COLUMN height INTEGER NULL CHECK (height > 0);
-- One element per stored object variants/{id}/{name}.{format}: {name, format, width, height, size_bytes}.
ALTER TABLE image_records ADD COLUMN variants JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(variants) = 'array');
-- The sum of the variants' size_bytes: counted in the owner's usage with size_bytes while the
-- record is ready, and released with it.
ALTER TABLE image_records ADD COLUMN variants_bytes BIGINT NOT NULL DEFAULT 0 CHECK (variants_bytes >= 0);
-- ThumbHash of the image, base64.
ALTER TABLE image_records ADD COLUMN placeholder TEXT NULL;
-- What the original carried that no variant does: names among exif, gps, xmp, iptc, comment.
ALTER TABLE image_records ADD COLUMN metadata_removed JSONB NOT NULL DEFAULT '[]'::jsonb
  CHECK (jsonb_typeof(metadata_removed) = 'array' AND metadata_removed <@ '["exif", "gps", "xmp", "iptc", "comment"]'::jsonb);
