-- Dungeons & Dragons game days: villains inject faults; a drill that notices one is
-- linked to it, and the scoreboard times the response from the injection.
ALTER TABLE gamedays ADD COLUMN mode TEXT NOT NULL DEFAULT 'informed';
ALTER TABLE gamedays ADD COLUMN channel_id TEXT;
ALTER TABLE gamedays ADD COLUMN report_url TEXT;

CREATE TABLE gameday_villains (
    gameday_id INTEGER NOT NULL REFERENCES gamedays (id),
    user_id    TEXT NOT NULL,
    PRIMARY KEY (gameday_id, user_id)
);

CREATE TABLE injections (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    gameday_id  INTEGER NOT NULL REFERENCES gamedays (id),
    team        TEXT NOT NULL,
    description TEXT NOT NULL,
    target      TEXT,
    -- The caller's own name for it (a Litmus probe cannot read the answer's id).
    key         TEXT,
    created_by  TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    detected_at TEXT,
    drill_id    INTEGER REFERENCES incidents (id)
);
CREATE INDEX injections_by_gameday ON injections (gameday_id);
CREATE UNIQUE INDEX injections_by_key ON injections (gameday_id, key) WHERE key IS NOT NULL;
CREATE UNIQUE INDEX injections_by_drill ON injections (drill_id) WHERE drill_id IS NOT NULL;
