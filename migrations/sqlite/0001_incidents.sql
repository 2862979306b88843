-- Incidents, their roles and their append-only timeline.
-- Times are RFC 3339 UTC text, written by pompier (never by SQLite), so they sort as text.
CREATE TABLE incidents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    title            TEXT NOT NULL,
    severity         TEXT NOT NULL CHECK (severity IN ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
    status           TEXT NOT NULL CHECK (status IN ('open', 'investigating', 'mitigated', 'resolved', 'postmortem', 'closed')),
    channel_id       TEXT UNIQUE,
    declared_by      TEXT NOT NULL,
    opened_at        TEXT NOT NULL,
    investigating_at TEXT,
    mitigated_at     TEXT,
    resolved_at      TEXT,
    postmortem_at    TEXT,
    closed_at        TEXT,
    postmortem_url   TEXT,
    -- Bumped by every change: writers compare-and-set on it.
    version          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incidents_newest_first ON incidents (opened_at DESC, id DESC);
CREATE INDEX incidents_by_status ON incidents (status);

CREATE TABLE incident_roles (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    role        TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    PRIMARY KEY (incident_id, role)
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('declared', 'status', 'severity', 'role', 'note', 'postmortem')),
    actor       TEXT NOT NULL,
    from_value  TEXT,
    to_value    TEXT,
    role        TEXT,
    note        TEXT
);
CREATE INDEX events_by_incident ON events (incident_id, id);
