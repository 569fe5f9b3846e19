-- The per-owner index of events also holds each event's feed sequence, so
-- the reads by owner (a journey's page, export, erasure, unmerge) find the
-- change record of an event from the index alone: before, each event cost a
-- lookup in the events table for its sequence and then one in
-- journey_changes. Rebuilding the index reads every event once: building
-- the older index took 7 s over 2M events and 71 s over 10M in
-- `repository-bench --migrated`; the start that applies this over 10M took 66 s.
DROP INDEX IF EXISTS events_by_owner;
CREATE INDEX IF NOT EXISTS events_by_owner
  ON events (tenant, owner_kind, owner_id, event_time_us, event_id, stage, channel, subject_kind, subject_id, sequence);
