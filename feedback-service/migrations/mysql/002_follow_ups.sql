-- Changes of the feed other than stored feedback (follow-up cases opened or
-- updated). They take their sequence numbers from feed_sequence, as feedback
-- rows do, so the feed stays one gap-free sequence. `body` is a
-- FeedbackChange.
CREATE TABLE IF NOT EXISTS feed_changes (
  sequence BIGINT NOT NULL PRIMARY KEY,
  tenant VARCHAR(64) NOT NULL,
  committed_at_us BIGINT NOT NULL,
  body MEDIUMBLOB NOT NULL,
  KEY feed_changes_by_tenant (tenant, sequence)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Follow-up cases; `id` is the sequence of the change that opened the case.
-- Filter columns are copies of fields of `body` (the FollowUp message).
CREATE TABLE IF NOT EXISTS follow_ups (
  tenant VARCHAR(64) NOT NULL,
  id BIGINT NOT NULL,
  feedback_sequence BIGINT NOT NULL,
  customer_id VARCHAR(128) NOT NULL,
  status TINYINT NOT NULL,
  assignee VARCHAR(128) NOT NULL,
  outcome TINYINT NOT NULL,
  created_us BIGINT NOT NULL,
  resolved_us BIGINT NULL,
  body MEDIUMBLOB NOT NULL,
  PRIMARY KEY (tenant, id),
  UNIQUE KEY follow_ups_by_feedback (tenant, feedback_sequence),
  KEY follow_ups_by_created (tenant, created_us, id),
  KEY follow_ups_by_status (tenant, status, created_us, id),
  KEY follow_ups_by_customer (tenant, customer_id, created_us, id),
  KEY follow_ups_by_resolved (tenant, resolved_us)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Per-tenant rules (topic rules, follow-up rules) as serialized messages.
CREATE TABLE IF NOT EXISTS tenant_rules (
  tenant VARCHAR(64) NOT NULL,
  kind VARCHAR(32) NOT NULL,
  body MEDIUMBLOB NOT NULL,
  updated_us BIGINT NOT NULL,
  PRIMARY KEY (tenant, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
