-- Erased customers (right to be forgotten): the suppression list and the
-- audit record in one, naming the customer only by digest (shared/erasure.h).
-- `body` is the cx.common.v1.Erasure returned to the caller.
CREATE TABLE IF NOT EXISTS erased_customers (
  tenant VARCHAR(64) NOT NULL,
  digest CHAR(64) NOT NULL,
  erased_at_us BIGINT NOT NULL,
  body MEDIUMBLOB NOT NULL,
  PRIMARY KEY (tenant, digest)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
