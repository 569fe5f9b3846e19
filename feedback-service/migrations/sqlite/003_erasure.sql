-- Erased customers (right to be forgotten): the suppression list and the
-- audit record in one, naming the customer only by digest (shared/erasure.h).
-- `body` is the cx.common.v1.Erasure returned to the caller.
CREATE TABLE IF NOT EXISTS erased_customers (
  tenant TEXT NOT NULL,
  digest TEXT NOT NULL,
  erased_at_us INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant, digest)
) WITHOUT ROWID;
