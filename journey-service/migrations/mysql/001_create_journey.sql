-- The change-feed sequence: one row, locked (SELECT ... FOR UPDATE) by every
-- write transaction so sequence numbers are contiguous and in commit order,
-- even with several replicas writing to one database.
CREATE TABLE IF NOT EXISTS journey_sequence (
  shard INT NOT NULL PRIMARY KEY,
  next_sequence BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO journey_sequence (shard, next_sequence) VALUES (0, 1);

-- The change feed: one row per committed change, body = JourneyChange
-- without sequence, tenant and commit_time. Event bodies live only here.
CREATE TABLE IF NOT EXISTS journey_changes (
  sequence BIGINT NOT NULL PRIMARY KEY,
  tenant VARCHAR(64) NOT NULL,
  committed_at_us BIGINT NOT NULL,
  body MEDIUMBLOB NOT NULL,
  KEY journey_changes_by_tenant (tenant, sequence)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS customers (
  tenant VARCHAR(64) NOT NULL,
  customer_id VARCHAR(128) NOT NULL,
  segment VARCHAR(64) NOT NULL,
  updated_at_us BIGINT NOT NULL,
  body MEDIUMBLOB NOT NULL,
  PRIMARY KEY (tenant, customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS crm_references (
  tenant VARCHAR(64) NOT NULL,
  crm_system VARCHAR(32) NOT NULL,
  crm_id VARCHAR(128) NOT NULL,
  customer_id VARCHAR(128) NOT NULL,
  PRIMARY KEY (tenant, crm_system, crm_id),
  KEY crm_references_by_customer (tenant, customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS identity_merges (
  tenant VARCHAR(64) NOT NULL,
  merge_id BIGINT NOT NULL,
  source_kind TINYINT NOT NULL,
  source_id VARCHAR(128) NOT NULL,
  target_customer_id VARCHAR(128) NOT NULL,
  active TINYINT NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, merge_id),
  KEY identity_merges_by_source (tenant, source_kind, source_id, active),
  KEY identity_merges_by_target (tenant, target_customer_id, active)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS events (
  tenant VARCHAR(64) NOT NULL,
  event_id VARCHAR(128) NOT NULL,
  sequence BIGINT NOT NULL,
  payload_hash CHAR(32) NOT NULL,
  subject_kind TINYINT NOT NULL,
  subject_id VARCHAR(128) NOT NULL,
  owner_kind TINYINT NOT NULL,
  owner_id VARCHAR(128) NOT NULL,
  event_time_us BIGINT NOT NULL,
  stage TINYINT NOT NULL,
  channel TINYINT NOT NULL,
  PRIMARY KEY (tenant, event_id),
  KEY events_by_owner (tenant, owner_kind, owner_id, event_time_us, event_id, stage, channel, subject_kind, subject_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS journey_states (
  tenant VARCHAR(64) NOT NULL,
  owner_kind TINYINT NOT NULL,
  owner_id VARCHAR(128) NOT NULL,
  stage TINYINT NOT NULL,
  stage_time_us BIGINT NOT NULL,
  stage_event_id VARCHAR(128) NOT NULL,
  last_event_time_us BIGINT NOT NULL,
  PRIMARY KEY (tenant, owner_kind, owner_id),
  KEY journey_states_by_stage (tenant, owner_kind, stage, owner_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS stage_mappings (
  tenant VARCHAR(64) NOT NULL PRIMARY KEY,
  body BLOB NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
