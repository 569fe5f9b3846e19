-- Follow-up cases from the feedback feed: whether each is still open, for
-- the "open follow-ups" of customer health. One row per case, replaced by
-- every change of the case.
CREATE TABLE IF NOT EXISTS metrics_follow_ups (
  tenant TEXT NOT NULL,
  follow_up TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  open INTEGER NOT NULL,
  PRIMARY KEY (tenant, follow_up)
);
