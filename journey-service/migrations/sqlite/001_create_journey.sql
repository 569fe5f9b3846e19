-- The change-feed sequence: one row, locked by every write transaction so
-- sequence numbers are contiguous and in commit order.
CREATE TABLE IF NOT EXISTS journey_sequence (
  shard INTEGER NOT NULL PRIMARY KEY,
  next_sequence INTEGER NOT NULL
);
INSERT OR IGNORE INTO journey_sequence (shard, next_sequence) VALUES (0, 1);

-- The change feed: one row per committed change, body = JourneyChange
-- without sequence, tenant and commit_time. Event bodies live only here.
CREATE TABLE IF NOT EXISTS journey_changes (
  sequence INTEGER NOT NULL PRIMARY KEY,
  tenant TEXT NOT NULL,
  committed_at_us INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS journey_changes_by_tenant ON journey_changes (tenant, sequence);

-- Customer records; body = Customer (traits, versions, references).
CREATE TABLE IF NOT EXISTS customers (
  tenant TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  segment TEXT NOT NULL,
  updated_at_us INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, customer_id)
) WITHOUT ROWID;

-- Each CRM reference belongs to exactly one customer record.
CREATE TABLE IF NOT EXISTS crm_references (
  tenant TEXT NOT NULL,
  crm_system TEXT NOT NULL,
  crm_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  PRIMARY KEY (tenant, crm_system, crm_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS crm_references_by_customer ON crm_references (tenant, customer_id);

-- Merges of an identity (kind 1 customer, 2 anonymous) into a customer;
-- merge_id is the sequence of the merge's change. active = 0 once undone.
CREATE TABLE IF NOT EXISTS identity_merges (
  tenant TEXT NOT NULL,
  merge_id INTEGER NOT NULL,
  source_kind INTEGER NOT NULL,
  source_id TEXT NOT NULL,
  target_customer_id TEXT NOT NULL,
  active INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, merge_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identity_merges_by_source ON identity_merges (tenant, source_kind, source_id, active);
CREATE INDEX IF NOT EXISTS identity_merges_by_target ON identity_merges (tenant, target_customer_id, active);

-- Events by their client id (dedup). subject = the identity as recorded,
-- owner = the identity it counts for after merges. The body is the change
-- row `sequence`.
CREATE TABLE IF NOT EXISTS events (
  tenant TEXT NOT NULL,
  event_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  payload_hash TEXT NOT NULL,
  subject_kind INTEGER NOT NULL,
  subject_id TEXT NOT NULL,
  owner_kind INTEGER NOT NULL,
  owner_id TEXT NOT NULL,
  event_time_us INTEGER NOT NULL,
  stage INTEGER NOT NULL,
  channel INTEGER NOT NULL,
  PRIMARY KEY (tenant, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_owner
  ON events (tenant, owner_kind, owner_id, event_time_us, event_id, stage, channel, subject_kind, subject_id);

-- Per owner: the latest staged event and activity, kept current by every
-- write so customer lists can filter by stage.
CREATE TABLE IF NOT EXISTS journey_states (
  tenant TEXT NOT NULL,
  owner_kind INTEGER NOT NULL,
  owner_id TEXT NOT NULL,
  stage INTEGER NOT NULL,
  stage_time_us INTEGER NOT NULL,
  stage_event_id TEXT NOT NULL,
  last_event_time_us INTEGER NOT NULL,
  PRIMARY KEY (tenant, owner_kind, owner_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS journey_states_by_stage ON journey_states (tenant, owner_kind, stage, owner_id);

-- The tenant's overrides of the event type -> stage mapping (a serialized
-- SetStageMappingRequest).
CREATE TABLE IF NOT EXISTS stage_mappings (
  tenant TEXT NOT NULL PRIMARY KEY,
  body BLOB NOT NULL
);
