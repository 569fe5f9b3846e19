-- Erased customers (right to be forgotten): the suppression list and the
-- audit record in one, naming identities only by digest (shared/erasure.h):
-- the customer, identities merged into it and its CRM references, each with
-- the cx.common.v1.Erasure record as body.
CREATE TABLE IF NOT EXISTS erased_customers (
  tenant TEXT NOT NULL,
  digest TEXT NOT NULL,
  erased_at_us INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, digest)
) WITHOUT ROWID;

-- The identities each change other than an event names (customer upserts,
-- merges, unmerges), so an erasure finds their feed records. Events are
-- found through `events`.
CREATE TABLE IF NOT EXISTS change_identities (
  tenant TEXT NOT NULL,
  identity_kind INTEGER NOT NULL,
  identity_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  PRIMARY KEY (tenant, identity_kind, identity_id, sequence)
) WITHOUT ROWID;
INSERT OR IGNORE INTO change_identities (tenant, identity_kind, identity_id, sequence)
  SELECT tenant, source_kind, source_id, merge_id FROM identity_merges;
INSERT OR IGNORE INTO change_identities (tenant, identity_kind, identity_id, sequence)
  SELECT tenant, 1, target_customer_id, merge_id FROM identity_merges;

-- Upserts and unmerges committed before this migration are not listed in
-- change_identities: an erasure reads the tenant's changes below this
-- sequence instead.
CREATE TABLE IF NOT EXISTS journey_meta (
  name TEXT NOT NULL PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO journey_meta (name, value)
  SELECT 'change_identities_from', next_sequence FROM journey_sequence WHERE shard = 0;
