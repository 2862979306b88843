-- Follow-up actions of an incident, numbered within it.
CREATE TABLE followups (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    number      BIGINT NOT NULL,
    text        TEXT NOT NULL,
    owner       TEXT,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    done_at     TIMESTAMPTZ,
    done_by     TEXT,
    PRIMARY KEY (incident_id, number)
);
CREATE INDEX followups_open ON followups (created_at) WHERE done_at IS NULL;

-- An incident's failure class, from the configured list.
ALTER TABLE incidents ADD COLUMN failure_class TEXT;
-- A private incident: a private channel, not announced, its title shown only to members.
ALTER TABLE incidents ADD COLUMN private BOOLEAN NOT NULL DEFAULT false;
-- The statistics count incidents by failure class too: the class joins their covering
-- index, so they stay an index-only scan.
DROP INDEX incidents_stats;
CREATE INDEX incidents_stats ON incidents (opened_at)
    INCLUDE (severity, status, investigating_at, mitigated_at, resolved_at, postmortem_at, failure_class)
    WHERE NOT drill;
