-- The change-feed sequence: one row per shard, locked (SELECT ... FOR UPDATE)
-- by each write batch so sequence numbers are contiguous and in commit order,
-- even with several replicas writing to one database.
CREATE TABLE IF NOT EXISTS feed_sequence (
  shard INT NOT NULL PRIMARY KEY,
  next_sequence BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO feed_sequence (shard, next_sequence) VALUES (0, 1);

-- One row per stored feedback; its sequence is its place in the change feed.
-- Filter columns are copies of fields of `body` (the stored Feedback message).
CREATE TABLE IF NOT EXISTS feedback (
  tenant VARCHAR(64) NOT NULL,
  sequence BIGINT NOT NULL,
  request_id VARCHAR(128) NOT NULL,
  payload_hash CHAR(32) NOT NULL,
  customer_id VARCHAR(128) NOT NULL,
  kind TINYINT NOT NULL,
  score SMALLINT NULL,
  channel TINYINT NOT NULL,
  source TINYINT NOT NULL,
  touchpoint_id VARCHAR(128) NOT NULL,
  journey_stage TINYINT NOT NULL,
  tags VARCHAR(1400) NOT NULL,
  occurred_at_us BIGINT NOT NULL,
  received_at_us BIGINT NOT NULL,
  committed_at_us BIGINT NOT NULL,
  body MEDIUMBLOB NOT NULL,
  PRIMARY KEY (tenant, sequence),
  UNIQUE KEY feedback_by_sequence (sequence),
  UNIQUE KEY feedback_by_request (tenant, request_id),
  KEY feedback_by_time (tenant, occurred_at_us, sequence),
  KEY feedback_by_customer (tenant, customer_id, occurred_at_us, sequence)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
