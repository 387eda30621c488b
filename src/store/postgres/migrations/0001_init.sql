-- hookroute's PostgreSQL schema, version 1: the dedup markers, events with their bodies, delivery
-- jobs with their leases, and attempts. Times are unix milliseconds as the application sees them
-- (every instance's clock), so that the engine keeps the exact semantics of the others.

CREATE SEQUENCE hr_event_seq;
CREATE SEQUENCE hr_lease_token;

-- (endpoint, event id) -> the event accepted for it, and when: a later copy within the dedup
-- window is a duplicate of `seq`.
CREATE TABLE hr_dedup (
    endpoint        TEXT   NOT NULL,
    event_id        TEXT   NOT NULL,
    seq             BIGINT NOT NULL,
    accepted_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (endpoint, event_id)
);
CREATE INDEX hr_dedup_age ON hr_dedup (accepted_at_ms);

CREATE TABLE hr_events (
    seq             BIGINT PRIMARY KEY,
    endpoint        TEXT   NOT NULL,
    event_id        TEXT   NOT NULL,
    event_type      TEXT,
    received_at_ms  BIGINT NOT NULL,
    -- postcard-encoded Vec<(String, Vec<u8>)>: the request headers as stored.
    headers         BYTEA  NOT NULL,
    body            BYTEA  NOT NULL
);
CREATE INDEX hr_events_age ON hr_events (received_at_ms);

-- state: 0 pending, 1 delivered, 2 dead-lettered. A pending job is claimed under a lease
-- (owner, token, expiry); a newer claim takes a new token, so a stale holder matches nothing.
CREATE TABLE hr_jobs (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq           BIGINT   NOT NULL REFERENCES hr_events (seq),
    target              TEXT     NOT NULL,
    created_at_ms       BIGINT   NOT NULL,
    state               SMALLINT NOT NULL DEFAULT 0,
    finished_at_ms      BIGINT,
    dead_reason         TEXT,
    attempts            INTEGER  NOT NULL DEFAULT 0,
    next_attempt_at_ms  BIGINT   NOT NULL,
    lease_owner         TEXT,
    lease_token         BIGINT,
    lease_expires_ms    BIGINT
);
-- The claim's scan and the next due time: pending jobs only, in due order.
CREATE INDEX hr_jobs_due ON hr_jobs (next_attempt_at_ms, id) WHERE state = 0;
-- Live claims per target (the concurrency shared by every instance).
CREATE INDEX hr_jobs_leased ON hr_jobs (target, lease_expires_ms) WHERE state = 0 AND lease_token IS NOT NULL;
CREATE INDEX hr_jobs_dead ON hr_jobs (id) WHERE state = 2;
-- Queue depths per target (the metrics) without reading delivered jobs.
CREATE INDEX hr_jobs_unfinished ON hr_jobs (target, state) WHERE state <> 1;
CREATE INDEX hr_jobs_event ON hr_jobs (event_seq);

CREATE TABLE hr_attempts (
    job_id          BIGINT  NOT NULL REFERENCES hr_jobs (id),
    attempt         INTEGER NOT NULL,
    at_ms           BIGINT  NOT NULL,
    latency_ms      BIGINT  NOT NULL,
    status          INTEGER,
    error           TEXT,
    response_body   BYTEA   NOT NULL,
    PRIMARY KEY (job_id, attempt)
);
