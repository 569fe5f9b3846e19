-- The change-feed sequence: one row per shard, locked by each write batch so
-- sequence numbers are contiguous and in commit order.
CREATE TABLE IF NOT EXISTS feed_sequence (
  shard INTEGER NOT NULL PRIMARY KEY,
  next_sequence INTEGER NOT NULL
);
INSERT OR IGNORE INTO feed_sequence (shard, next_sequence) VALUES (0, 1);

-- One row per stored feedback; its sequence is its place in the change feed.
-- Filter columns are copies of fields of `body` (the stored Feedback message).
CREATE TABLE IF NOT EXISTS feedback (
  tenant TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  payload_hash TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  score INTEGER,
  channel INTEGER NOT NULL,
  source INTEGER NOT NULL,
  touchpoint_id TEXT NOT NULL,
  journey_stage INTEGER NOT NULL,
  tags TEXT NOT NULL,
  occurred_at_us INTEGER NOT NULL,
  received_at_us INTEGER NOT NULL,
  committed_at_us INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, sequence)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS feedback_by_sequence ON feedback (sequence);
CREATE UNIQUE INDEX IF NOT EXISTS feedback_by_request ON feedback (tenant, request_id);
CREATE INDEX IF NOT EXISTS feedback_by_time ON feedback (tenant, occurred_at_us, sequence);
CREATE INDEX IF NOT EXISTS feedback_by_customer ON feedback (tenant, customer_id, occurred_at_us, sequence);
