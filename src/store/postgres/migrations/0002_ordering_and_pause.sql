-- Version 2: a job's ordering key (jobs of one target with the same key are delivered one at a
-- time, in acceptance order) and the targets an operator paused (kept across restarts, shared by
-- every instance).

ALTER TABLE hr_jobs ADD COLUMN ordering_key TEXT;
-- The claim's test "no earlier pending job of this key": pending keyed jobs only.
CREATE INDEX hr_jobs_key ON hr_jobs (target, ordering_key, id) WHERE state = 0 AND ordering_key IS NOT NULL;

CREATE TABLE hr_paused (
    target TEXT PRIMARY KEY
);
