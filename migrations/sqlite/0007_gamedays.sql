-- Game days frame drills: incidents declared to train, by team, out of the statistics.
CREATE TABLE gamedays (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    started_by TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at   TEXT
);
-- At most one game day runs at a time.
CREATE UNIQUE INDEX gamedays_one_running ON gamedays (ended_at IS NULL) WHERE ended_at IS NULL;

ALTER TABLE incidents ADD COLUMN drill BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN team TEXT;
ALTER TABLE incidents ADD COLUMN gameday_id INTEGER REFERENCES gamedays (id);
CREATE INDEX incidents_by_gameday ON incidents (gameday_id) WHERE gameday_id IS NOT NULL;
-- The statistics leave drills out: their covering index holds real incidents only.
DROP INDEX incidents_stats;
CREATE INDEX incidents_stats ON incidents
    (opened_at, severity, status, investigating_at, mitigated_at, resolved_at, postmortem_at)
    WHERE NOT drill;
