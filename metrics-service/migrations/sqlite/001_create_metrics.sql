-- Where each change feed has been consumed up to; moved in the same
-- transaction as the rollup changes of the records before it.
CREATE TABLE IF NOT EXISTS metrics_cursors (
  feed TEXT NOT NULL PRIMARY KEY,
  after_sequence INTEGER NOT NULL
);

-- What the journey feed said of customers: segment and merge parent.
CREATE TABLE IF NOT EXISTS metrics_customers (
  tenant TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  segment TEXT NOT NULL,
  parent TEXT NOT NULL,
  PRIMARY KEY (tenant, customer_id)
);
CREATE INDEX IF NOT EXISTS metrics_customers_by_parent ON metrics_customers (tenant, parent);

-- One row per scored feedback: what it adds to which cells (so it can be
-- moved or retracted exactly). tags are joined by ','.
CREATE TABLE IF NOT EXISTS metrics_facts (
  tenant TEXT NOT NULL,
  feedback_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  metric INTEGER NOT NULL,
  score INTEGER NOT NULL,
  hour INTEGER NOT NULL,
  channel TEXT NOT NULL,
  source TEXT NOT NULL,
  touchpoint TEXT NOT NULL,
  stage TEXT NOT NULL,
  segment TEXT NOT NULL,
  tags TEXT NOT NULL,
  PRIMARY KEY (tenant, feedback_id)
);
CREATE INDEX IF NOT EXISTS metrics_facts_by_customer ON metrics_facts (tenant, customer_id);
CREATE INDEX IF NOT EXISTS metrics_facts_by_time ON metrics_facts (tenant, metric, hour);

-- Hourly rollup cells: mergeable counters per (tenant, metric, hour, key).
CREATE TABLE IF NOT EXISTS metrics_cells (
  tenant TEXT NOT NULL,
  metric INTEGER NOT NULL,
  hour INTEGER NOT NULL,
  channel TEXT NOT NULL,
  source TEXT NOT NULL,
  touchpoint TEXT NOT NULL,
  stage TEXT NOT NULL,
  segment TEXT NOT NULL,
  tag TEXT NOT NULL,
  cnt_n INTEGER NOT NULL,
  cnt_top INTEGER NOT NULL,
  cnt_bottom INTEGER NOT NULL,
  cnt_sum INTEGER NOT NULL,
  cnt_sum_sq INTEGER NOT NULL,
  PRIMARY KEY (tenant, metric, hour, channel, source, touchpoint, stage, segment, tag)
);

CREATE TABLE IF NOT EXISTS metrics_alert_rules (
  tenant TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  payload_hash TEXT NOT NULL,
  in_breach INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, rule_id),
  UNIQUE (tenant, request_id)
);

CREATE TABLE IF NOT EXISTS metrics_alerts (
  sequence INTEGER NOT NULL PRIMARY KEY,
  tenant TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_alerts_by_tenant ON metrics_alerts (tenant, sequence);
CREATE INDEX IF NOT EXISTS metrics_alerts_by_rule ON metrics_alerts (tenant, rule_id, sequence);
