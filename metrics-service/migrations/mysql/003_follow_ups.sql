-- Follow-up cases from the feedback feed: whether each is still open, for
-- the "open follow-ups" of customer health. One row per case, replaced by
-- every change of the case.
CREATE TABLE IF NOT EXISTS metrics_follow_ups (
  tenant VARCHAR(64) NOT NULL,
  follow_up VARCHAR(64) NOT NULL,
  customer_id VARCHAR(140) NOT NULL,
  open TINYINT NOT NULL,
  PRIMARY KEY (tenant, follow_up)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
