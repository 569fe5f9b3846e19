-- A follow-up case takes the sequence number right after its feedback's
-- (id = feedback_sequence + 1), so a customer's cases are found through the
-- feedback's per-customer index (sql_feedback_repository.cc, CaseIdOf). The
-- per-customer index of cases cost every opened case an entry among all the
-- tenant's customers.
ALTER TABLE follow_ups DROP INDEX follow_ups_by_customer;
