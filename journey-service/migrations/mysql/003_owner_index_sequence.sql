-- The per-owner index of events also holds each event's feed sequence, so
-- the reads by owner (a journey's page, export, erasure, unmerge) find the
-- change record of an event from the index alone: before, each event cost a
-- lookup in the events table for its sequence and then one in
-- journey_changes. One statement: InnoDB rebuilds the index in place while
-- the table stays writable (building the older index took 3 s over 2M events
-- and 24 s over 10M in `repository-bench --migrated`; the start that applies
-- this over 10M took 49 s), and a rerun after a crash before the
-- migration was recorded rebuilds it again.
ALTER TABLE events DROP INDEX IF EXISTS events_by_owner,
  ADD INDEX events_by_owner (tenant, owner_kind, owner_id, event_time_us, event_id, stage, channel, subject_kind, subject_id, sequence);
