-- A follow-up case is opened only together with its feedback, in the
-- transaction that stores that feedback, under a sequence number of its own:
-- one case per feedback holds by construction, and no query looks a case up
-- by its feedback (the feedback names its case). The unique index on
-- (tenant, feedback_sequence) checked nothing the writer does not already
-- ensure, and cost every opened case one more B-tree entry.
ALTER TABLE follow_ups DROP INDEX follow_ups_by_feedback;
