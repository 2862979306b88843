-- The durable queue of work against Slack (and later Confluence), written in the same
-- transaction as the change that causes it (outbox). An incident's jobs run one after
-- the other: only its oldest unfinished job is `pending` (claimable); the others wait as
-- `queued` and the next one is promoted when it finishes.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id),
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('queued', 'pending', 'done', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_owner     TEXT,
    lease_until     TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX jobs_due ON jobs (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX jobs_by_incident ON jobs (incident_id, state, id);

-- What pompier made in Slack, recorded as soon as it exists so a retry never makes it twice.
ALTER TABLE incidents ADD COLUMN summary_ts TEXT;
