-- Statistics kept by day, so that their cost follows the days asked for, not the
-- incidents in them. A trigger logs every change to an incident's statistical facts in
-- the transaction that makes it (the old facts with sign -1, the new with +1), without
-- contention: it only appends. Times are text, as in `incidents`. pompier folds the log into the daily rollups in the
-- background; a read adds what is not folded yet.
CREATE TABLE stats_changes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    sign             INTEGER NOT NULL,
    severity         TEXT NOT NULL,
    status           TEXT NOT NULL,
    drill            BOOLEAN NOT NULL,
    failure_class    TEXT,
    opened_at        TEXT NOT NULL,
    investigating_at TEXT,
    mitigated_at     TEXT,
    resolved_at      TEXT,
    postmortem_at    TEXT,
    updates          INTEGER NOT NULL,
    late_updates     INTEGER NOT NULL
);

-- One row per day (UTC), drill or not, severity and status: the incidents opened
-- that day, and their durations as three sketches (`durations`).
CREATE TABLE stats_days (
    day         TEXT NOT NULL,
    drill        BOOLEAN NOT NULL,
    severity     TEXT NOT NULL,
    status       TEXT NOT NULL,
    incidents    INTEGER NOT NULL,
    updates      INTEGER NOT NULL,
    late_updates INTEGER NOT NULL,
    postmortems  INTEGER NOT NULL,
    durations    BLOB NOT NULL,
    PRIMARY KEY (day, drill, severity, status)
);

-- The same incidents by failure class ('' for none).
CREATE TABLE stats_day_classes (
    day          TEXT NOT NULL,
    drill         BOOLEAN NOT NULL,
    severity      TEXT NOT NULL,
    status        TEXT NOT NULL,
    failure_class TEXT NOT NULL,
    incidents     INTEGER NOT NULL,
    PRIMARY KEY (day, drill, severity, status, failure_class)
);

CREATE TRIGGER incidents_stats_added AFTER INSERT ON incidents BEGIN
    INSERT INTO stats_changes (sign, severity, status, drill, failure_class, opened_at,
        investigating_at, mitigated_at, resolved_at, postmortem_at, updates, late_updates)
    VALUES (1, NEW.severity, NEW.status, NEW.drill, NEW.failure_class, NEW.opened_at,
        NEW.investigating_at, NEW.mitigated_at, NEW.resolved_at, NEW.postmortem_at,
        NEW.updates, NEW.late_updates);
END;

CREATE TRIGGER incidents_stats_removed AFTER DELETE ON incidents BEGIN
    INSERT INTO stats_changes (sign, severity, status, drill, failure_class, opened_at,
        investigating_at, mitigated_at, resolved_at, postmortem_at, updates, late_updates)
    VALUES (-1, OLD.severity, OLD.status, OLD.drill, OLD.failure_class, OLD.opened_at,
        OLD.investigating_at, OLD.mitigated_at, OLD.resolved_at, OLD.postmortem_at,
        OLD.updates, OLD.late_updates);
END;

CREATE TRIGGER incidents_stats_changed AFTER UPDATE ON incidents
WHEN OLD.severity IS NOT NEW.severity
  OR OLD.status IS NOT NEW.status
  OR OLD.drill IS NOT NEW.drill
  OR OLD.failure_class IS NOT NEW.failure_class
  OR OLD.opened_at IS NOT NEW.opened_at
  OR OLD.investigating_at IS NOT NEW.investigating_at
  OR OLD.mitigated_at IS NOT NEW.mitigated_at
  OR OLD.resolved_at IS NOT NEW.resolved_at
  OR OLD.postmortem_at IS NOT NEW.postmortem_at
  OR OLD.updates IS NOT NEW.updates
  OR OLD.late_updates IS NOT NEW.late_updates
BEGIN
    INSERT INTO stats_changes (sign, severity, status, drill, failure_class, opened_at,
        investigating_at, mitigated_at, resolved_at, postmortem_at, updates, late_updates)
    VALUES (-1, OLD.severity, OLD.status, OLD.drill, OLD.failure_class, OLD.opened_at,
        OLD.investigating_at, OLD.mitigated_at, OLD.resolved_at, OLD.postmortem_at,
        OLD.updates, OLD.late_updates);
    INSERT INTO stats_changes (sign, severity, status, drill, failure_class, opened_at,
        investigating_at, mitigated_at, resolved_at, postmortem_at, updates, late_updates)
    VALUES (1, NEW.severity, NEW.status, NEW.drill, NEW.failure_class, NEW.opened_at,
        NEW.investigating_at, NEW.mitigated_at, NEW.resolved_at, NEW.postmortem_at,
        NEW.updates, NEW.late_updates);
END;

-- The incidents already there, to be folded like any change.
INSERT INTO stats_changes (sign, severity, status, drill, failure_class, opened_at,
    investigating_at, mitigated_at, resolved_at, postmortem_at, updates, late_updates)
SELECT 1, severity, status, drill, failure_class, opened_at, investigating_at,
    mitigated_at, resolved_at, postmortem_at, updates, late_updates
FROM incidents ORDER BY id;
