-- Changes of the feed other than stored feedback (follow-up cases opened or
-- updated). They take their sequence numbers from feed_sequence, as feedback
-- rows do, so the feed stays one gap-free sequence. `body` is a
-- FeedbackChange.
CREATE TABLE IF NOT EXISTS feed_changes (
  sequence INTEGER NOT NULL PRIMARY KEY,
  tenant TEXT NOT NULL,
  committed_at_us INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS feed_changes_by_tenant ON feed_changes (tenant, sequence);

-- Follow-up cases; `id` is the sequence of the change that opened the case.
-- Filter columns are copies of fields of `body` (the FollowUp message).
CREATE TABLE IF NOT EXISTS follow_ups (
  tenant TEXT NOT NULL,
  id INTEGER NOT NULL,
  feedback_sequence INTEGER NOT NULL,
  customer_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  assignee TEXT NOT NULL,
  outcome INTEGER NOT NULL,
  created_us INTEGER NOT NULL,
  resolved_us INTEGER,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS follow_ups_by_feedback ON follow_ups (tenant, feedback_sequence);
CREATE INDEX IF NOT EXISTS follow_ups_by_created ON follow_ups (tenant, created_us, id);
CREATE INDEX IF NOT EXISTS follow_ups_by_status ON follow_ups (tenant, status, created_us, id);
CREATE INDEX IF NOT EXISTS follow_ups_by_customer ON follow_ups (tenant, customer_id, created_us, id);
CREATE INDEX IF NOT EXISTS follow_ups_by_resolved ON follow_ups (tenant, resolved_us);

-- Per-tenant rules (topic rules, follow-up rules) as serialized messages.
CREATE TABLE IF NOT EXISTS tenant_rules (
  tenant TEXT NOT NULL,
  kind TEXT NOT NULL,
  body BLOB NOT NULL,
  updated_us INTEGER NOT NULL,
  PRIMARY KEY (tenant, kind)
) WITHOUT ROWID;
