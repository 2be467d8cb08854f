-- API keys for machine clients. The key itself is shown once, at creation; only its SHA-256
-- is kept (a random 256-bit key needs no slow hash: there is nothing to brute-force), with a
-- short display prefix so an owner can tell their keys apart.
CREATE TABLE api_keys (
  id           TEXT        PRIMARY KEY,
  owner_id     TEXT        NOT NULL,
  name         TEXT        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  prefix       TEXT        NOT NULL,
  key_hash     BYTEA       NOT NULL UNIQUE,
  created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at   TIMESTAMPTZ NULL,
  revoked_at   TIMESTAMPTZ NULL,
  last_used_at TIMESTAMPTZ NULL
);

-- "My keys, newest first"; authentication goes through the unique key_hash index.
CREATE INDEX api_keys_owner_created ON api_keys (owner_id, created_at DESC);
