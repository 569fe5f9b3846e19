-- Journey metrics (funnels, retention, churn, CLV, support, health): every
-- journey event as metrics-service counts it. subject is the identity the
-- event was recorded for: a customer id, or ' a:' + an anonymous id (the
-- space cannot occur in an id). Its customer is the root of the subject's
-- merges in metrics_customers, which now holds anonymous identities too.
CREATE TABLE IF NOT EXISTS metrics_events (
  tenant VARCHAR(64) NOT NULL,
  event_id VARCHAR(128) NOT NULL,
  subject VARCHAR(140) NOT NULL,
  sequence BIGINT NOT NULL,
  time_us BIGINT NOT NULL,
  type VARCHAR(64) NOT NULL,
  channel INT NOT NULL,
  touchpoint VARCHAR(128) NOT NULL,
  stage INT NOT NULL,
  currency VARCHAR(3) NOT NULL,
  amount_minor BIGINT NOT NULL,
  ticket_id VARCHAR(128) NOT NULL,
  PRIMARY KEY (tenant, event_id),
  KEY metrics_events_by_type (tenant, type, time_us),
  KEY metrics_events_by_subject (tenant, subject, time_us)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- Anonymous identities are ' a:' + id; the version of a customer's health
-- inputs (for incremental CRM sync).
ALTER TABLE metrics_customers MODIFY customer_id VARCHAR(140) NOT NULL, MODIFY parent VARCHAR(140) NOT NULL,
  ADD COLUMN health_version BIGINT NOT NULL DEFAULT 0;

-- When each scored feedback happened (the latest NPS answer of a customer).
ALTER TABLE metrics_facts ADD COLUMN occurred_us BIGINT NOT NULL DEFAULT 0;

-- Journey events consumed before this migration were not kept: read the
-- journey feed again from the start. Its effects are idempotent (events
-- are stored once by id; upserts, merges and unmerges replayed in order end
-- in the same state), so the replay only adds what was missing.
UPDATE metrics_cursors SET after_sequence = 0 WHERE feed = 'journey';
