-- A follow-up case takes the sequence number right after its feedback's
-- (id = feedback_sequence + 1), so a customer's cases are found through the
-- feedback's per-customer index (sql_feedback_repository.cc, CaseIdOf). The
-- per-customer index of cases cost every opened case an entry among all the
-- tenant's customers, which is one more page written per case: cx-bench
-- BatchSubmitFeedback (64% of its rows open a case) wrote about a fifth fewer
-- bytes to storage (WAL and checkpoints) per row without it.
DROP INDEX IF EXISTS follow_ups_by_customer;
