-- Where each change feed has been consumed up to; moved in the same
-- transaction as the rollup changes of the records before it.
CREATE TABLE IF NOT EXISTS metrics_cursors (
  feed VARCHAR(32) NOT NULL PRIMARY KEY,
  after_sequence BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- What the journey feed said of customers: segment and merge parent.
CREATE TABLE IF NOT EXISTS metrics_customers (
  tenant VARCHAR(64) NOT NULL,
  customer_id VARCHAR(128) NOT NULL,
  segment VARCHAR(64) NOT NULL,
  parent VARCHAR(128) NOT NULL,
  PRIMARY KEY (tenant, customer_id),
  KEY metrics_customers_by_parent (tenant, parent)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- One row per scored feedback: what it adds to which cells (so it can be
-- moved or retracted exactly). tags are joined by ','.
CREATE TABLE IF NOT EXISTS metrics_facts (
  tenant VARCHAR(64) NOT NULL,
  feedback_id VARCHAR(128) NOT NULL,
  customer_id VARCHAR(128) NOT NULL,
  metric INT NOT NULL,
  score INT NOT NULL,
  hour BIGINT NOT NULL,
  channel VARCHAR(8) NOT NULL,
  source VARCHAR(8) NOT NULL,
  touchpoint VARCHAR(128) NOT NULL,
  stage VARCHAR(8) NOT NULL,
  segment VARCHAR(64) NOT NULL,
  tags VARCHAR(2048) NOT NULL,
  PRIMARY KEY (tenant, feedback_id),
  KEY metrics_facts_by_customer (tenant, customer_id),
  KEY metrics_facts_by_time (tenant, metric, hour)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- Hourly rollup cells: mergeable counters per (tenant, metric, hour, key).
CREATE TABLE IF NOT EXISTS metrics_cells (
  tenant VARCHAR(64) NOT NULL,
  metric INT NOT NULL,
  hour BIGINT NOT NULL,
  channel VARCHAR(8) NOT NULL,
  source VARCHAR(8) NOT NULL,
  touchpoint VARCHAR(128) NOT NULL,
  stage VARCHAR(8) NOT NULL,
  segment VARCHAR(64) NOT NULL,
  tag VARCHAR(64) NOT NULL,
  cnt_n BIGINT NOT NULL,
  cnt_top BIGINT NOT NULL,
  cnt_bottom BIGINT NOT NULL,
  cnt_sum BIGINT NOT NULL,
  cnt_sum_sq BIGINT NOT NULL,
  PRIMARY KEY (tenant, metric, hour, channel, source, touchpoint, stage, segment, tag)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

CREATE TABLE IF NOT EXISTS metrics_alert_rules (
  tenant VARCHAR(64) NOT NULL,
  rule_id VARCHAR(32) NOT NULL,
  request_id VARCHAR(128) NOT NULL,
  payload_hash VARCHAR(64) NOT NULL,
  in_breach INT NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, rule_id),
  UNIQUE KEY metrics_alert_rules_by_request (tenant, request_id)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

CREATE TABLE IF NOT EXISTS metrics_alerts (
  sequence BIGINT NOT NULL PRIMARY KEY,
  tenant VARCHAR(64) NOT NULL,
  rule_id VARCHAR(32) NOT NULL,
  body BLOB NOT NULL,
  KEY metrics_alerts_by_tenant (tenant, sequence),
  KEY metrics_alerts_by_rule (tenant, rule_id, sequence)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;
