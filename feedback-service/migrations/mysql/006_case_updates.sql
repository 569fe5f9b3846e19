-- The feed records of each case's updates (UpdateFollowUp), so an erasure
-- finds them by the case instead of reading the tenant's whole change feed.
-- A case's opening record is at its own id (the case takes its sequence
-- number), so only updates are listed.
CREATE TABLE IF NOT EXISTS follow_up_updates (
  tenant VARCHAR(64) NOT NULL,
  follow_up_id BIGINT NOT NULL,
  sequence BIGINT NOT NULL,
  PRIMARY KEY (tenant, follow_up_id, sequence)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Updates committed before this migration are not listed in
-- follow_up_updates: an erasure of a case opened below this sequence reads
-- the tenant's changes between the case and this sequence instead.
CREATE TABLE IF NOT EXISTS feedback_meta (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  value BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT IGNORE INTO feedback_meta (name, value)
  SELECT 'follow_up_updates_from', next_sequence FROM feed_sequence WHERE shard = 0;
