-- Declarations through the API under an `Idempotency-Key`: the key (with its token's
-- name), the SHA-256 of the body it came with, and the incident it declared (NULL while
-- the first request runs). Kept 24 hours.
CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,
    body_hash   TEXT NOT NULL,
    incident_id INTEGER REFERENCES incidents (id),
    started_at  TEXT NOT NULL
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (started_at);

-- Alerts from monitoring, one row per (source, dedup key) and incident: `active` while
-- that incident is not closed, so one alert group opens one incident at a time. A repeat
-- of the same content (`signature`) only moves `last_at` and `count`.
CREATE TABLE alert_groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    incident_id INTEGER REFERENCES incidents (id), -- NULL: waiting in the triage channel
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    declared    BOOLEAN NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
    title       TEXT NOT NULL,
    url         TEXT,
    signature   TEXT NOT NULL,
    severity    TEXT NOT NULL,
    first_at    TEXT NOT NULL,
    last_at     TEXT NOT NULL,
    count       INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX alert_groups_active ON alert_groups (source, dedup_key) WHERE active;
CREATE INDEX alert_groups_by_incident ON alert_groups (incident_id, id);
CREATE INDEX alert_groups_declared ON alert_groups (first_at) WHERE declared;

-- Event kinds are the application's to check (it reads unknown ones as an error): new
-- capabilities add kinds (`alert`) without a migration each. SQLite cannot drop a CHECK:
-- the table is copied without it.
CREATE TABLE events_unchecked (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    from_value  TEXT,
    to_value    TEXT,
    role        TEXT,
    note        TEXT
);
INSERT INTO events_unchecked (id, incident_id, at, kind, actor, from_value, to_value, role, note)
    SELECT id, incident_id, at, kind, actor, from_value, to_value, role, note FROM events;
DROP TABLE events;
ALTER TABLE events_unchecked RENAME TO events;
CREATE INDEX events_by_incident ON events (incident_id, id);

-- A job may belong to no incident: an alert group waiting in the triage channel is
-- posted there by one. Such jobs wait behind nothing. (SQLite cannot drop NOT NULL: the
-- table is copied.)
CREATE TABLE jobs_any (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     INTEGER REFERENCES incidents (id),
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('queued', 'pending', 'done', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_owner     TEXT,
    lease_until     TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    finished_at     TEXT,
    service         TEXT NOT NULL DEFAULT 'slack',
    failing_since   TEXT
);
INSERT INTO jobs_any (id, incident_id, kind, payload, state, attempts, next_attempt_at, lease_owner,
                      lease_until, last_error, created_at, finished_at, service, failing_since)
    SELECT id, incident_id, kind, payload, state, attempts, next_attempt_at, lease_owner,
           lease_until, last_error, created_at, finished_at, service, failing_since FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_any RENAME TO jobs;
CREATE INDEX jobs_due ON jobs (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX jobs_by_incident ON jobs (incident_id, service, state, id);
CREATE INDEX jobs_unfinished ON jobs (service, state) WHERE state <> 'done';
CREATE INDEX jobs_done ON jobs (finished_at) WHERE state = 'done';
