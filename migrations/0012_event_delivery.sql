-- Event delivery (DESIGN "Events"): GET /events, the SSE stream and webhooks.
--
-- Readers must see events in the order they become visible: an event may never appear behind
-- one a reader already has. A sequence id does not give that (a transaction that took id 10
-- can commit after the one that took id 11; a reader resuming after 11 would skip 10). So each
-- event also records the id of the transaction that wrote it (`xid`, from the column default:
-- the statements that append events stay as they are), and readers take only events whose
-- transaction is older than every transaction still running (xid below the snapshot's xmin),
-- in (xid, id) order. No transaction can ever add an event below that line, so the order
-- readers see is final, and the public event id is "<xid>-<id>".
--
-- Rows written before this migration all get xid 0: they sort first, by id, as before.
ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
-- An owner's events in delivery order (GET /events, the stream's replay), and everyone's (the
-- live fan-out and the webhook relay). The first replaces events_owner (owner_id, id).
DROP INDEX events_owner;
CREATE INDEX events_owner_position ON events (owner_id, xid, id);
CREATE INDEX events_position ON events (xid, id);

-- Webhooks (WEBHOOK_URL): the relay copies events, in order, into deliveries (its outbox),
-- remembering how far it got; each delivery is tried until the receiver takes it or the
-- retry schedule runs out. One row per relay: there is one endpoint.
CREATE TABLE webhook_relay (
  name TEXT PRIMARY KEY,
  after_xid xid8 NOT NULL,
  after_id BIGINT NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
  -- events.id; no foreign key, so the retention of events and of deliveries stay independent.
  event_id BIGINT PRIMARY KEY,
  event_xid xid8 NOT NULL,
  subject_id TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  finished_at TIMESTAMPTZ NULL,
  last_error TEXT NULL
);
-- The relay's question: each subject's oldest pending delivery (order per subject).
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (subject_id, event_xid, event_id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE status <> 'pending';

-- Every try, what the receiver answered (or why there was no answer).
CREATE TABLE webhook_attempts (
  id BIGSERIAL PRIMARY KEY,
  event_id BIGINT NOT NULL,
  attempt INTEGER NOT NULL,
  at TIMESTAMPTZ NOT NULL DEFAULT now(),
  status_code INTEGER NULL,
  error TEXT NULL,
  duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, attempt);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);
