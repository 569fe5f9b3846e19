-- Journey metrics (funnels, retention, churn, CLV, support, health): every
-- journey event as metrics-service counts it. subject is the identity the
-- event was recorded for: a customer id, or ' a:' + an anonymous id (the
-- space cannot occur in an id). Its customer is the root of the subject's
-- merges in metrics_customers, which now holds anonymous identities too.
CREATE TABLE IF NOT EXISTS metrics_events (
  tenant TEXT NOT NULL,
  event_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  type TEXT NOT NULL,
  channel INTEGER NOT NULL,
  touchpoint TEXT NOT NULL,
  stage INTEGER NOT NULL,
  currency TEXT NOT NULL,
  amount_minor INTEGER NOT NULL,
  ticket_id TEXT NOT NULL,
  PRIMARY KEY (tenant, event_id)
);
CREATE INDEX IF NOT EXISTS metrics_events_by_type ON metrics_events (tenant, type, time_us);
CREATE INDEX IF NOT EXISTS metrics_events_by_subject ON metrics_events (tenant, subject, time_us);

-- The version of a customer's health inputs (for incremental CRM sync).
ALTER TABLE metrics_customers ADD COLUMN health_version INTEGER NOT NULL DEFAULT 0;

-- When each scored feedback happened (the latest NPS answer of a customer).
ALTER TABLE metrics_facts ADD COLUMN occurred_us INTEGER NOT NULL DEFAULT 0;

-- Journey events consumed before this migration were not kept: read the
-- journey feed again from the start. Its effects are idempotent (events
-- are stored once by id; upserts, merges and unmerges replayed in order end
-- in the same state), so the replay only adds what was missing.
UPDATE metrics_cursors SET after_sequence = 0 WHERE feed = 'journey';
