-- Erased customers (right to be forgotten): the suppression list and the
-- audit record in one, naming identities only by digest (shared/erasure.h):
-- the customer, identities merged into it and its CRM references, each with
-- the cx.common.v1.Erasure record as body.
CREATE TABLE IF NOT EXISTS erased_customers (
  tenant VARCHAR(64) NOT NULL,
  digest CHAR(64) NOT NULL,
  erased_at_us BIGINT NOT NULL,
  body MEDIUMBLOB NOT NULL,
  PRIMARY KEY (tenant, digest)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The identities each change other than an event names (customer upserts,
-- merges, unmerges), so an erasure finds their feed records. Events are
-- found through `events`.
CREATE TABLE IF NOT EXISTS change_identities (
  tenant VARCHAR(64) NOT NULL,
  identity_kind TINYINT NOT NULL,
  identity_id VARCHAR(128) NOT NULL,
  sequence BIGINT NOT NULL,
  PRIMARY KEY (tenant, identity_kind, identity_id, sequence)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT IGNORE INTO change_identities (tenant, identity_kind, identity_id, sequence)
  SELECT tenant, source_kind, source_id, merge_id FROM identity_merges;
INSERT IGNORE INTO change_identities (tenant, identity_kind, identity_id, sequence)
  SELECT tenant, 1, target_customer_id, merge_id FROM identity_merges;

-- Upserts and unmerges committed before this migration are not listed in
-- change_identities: an erasure reads the tenant's changes below this
-- sequence instead.
CREATE TABLE IF NOT EXISTS journey_meta (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  value BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT IGNORE INTO journey_meta (name, value)
  SELECT 'change_identities_from', next_sequence FROM journey_sequence WHERE shard = 0;
