-- Statistics kept by day, so that their cost follows the days asked for, not the
-- incidents in them. A trigger logs every change to an incident's statistical facts in
-- the transaction that makes it (the old facts with sign -1, the new with +1), without
-- contention: it only appends. pompier folds the log into the daily rollups in the
-- background; a read adds what is not folded yet.
CREATE TABLE stats_changes (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sign             SMALLINT NOT NULL,
    severity         TEXT NOT NULL,
    status           TEXT NOT NULL,
    drill            BOOLEAN NOT NULL,
    failure_class    TEXT,
    opened_at        TIMESTAMPTZ NOT NULL,
    investigating_at TIMESTAMPTZ,
    mitigated_at     TIMESTAMPTZ,
    resolved_at      TIMESTAMPTZ,
    postmortem_at    TIMESTAMPTZ,
    updates          BIGINT NOT NULL,
    late_updates     BIGINT NOT NULL
);

-- One row per day (UTC), drill or not, severity and status: the incidents opened
-- that day, and their durations as three sketches (`durations`).
CREATE TABLE stats_days (
    day         DATE NOT NULL,
    drill        BOOLEAN NOT NULL,
    severity     TEXT NOT NULL,
    status       TEXT NOT NULL,
    incidents    BIGINT NOT NULL,
    updates      BIGINT NOT NULL,
    late_updates BIGINT NOT NULL,
    postmortems  BIGINT NOT NULL,
    durations    BYTEA NOT NULL,
    PRIMARY KEY (day, drill, severity, status)
);

-- The same incidents by failure class ('' for none).
CREATE TABLE stats_day_classes (
    day          DATE NOT NULL,
    drill         BOOLEAN NOT NULL,
    severity      TEXT NOT NULL,
    status        TEXT NOT NULL,
    failure_class TEXT NOT NULL,
    incidents     BIGINT NOT NULL,
    PRIMARY KEY (day, drill, severity, status, failure_class)
);

CREATE FUNCTION stats_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO stats_changes (sign, severity, status, drill, failure_class, opened_at,
            investigating_at, mitigated_at, resolved_at, postmortem_at, updates, late_updates)
        VALUES (-1, OLD.severity, OLD.status, OLD.drill, OLD.failure_class, OLD.opened_at,
            OLD.investigating_at, OLD.mitigated_at, OLD.resolved_at, OLD.postmortem_at,
            OLD.updates, OLD.late_updates);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO stats_changes (sign, severity, status, drill, failure_class, opened_at,
            investigating_at, mitigated_at, resolved_at, postmortem_at, updates, late_updates)
        VALUES (1, NEW.severity, NEW.status, NEW.drill, NEW.failure_class, NEW.opened_at,
            NEW.investigating_at, NEW.mitigated_at, NEW.resolved_at, NEW.postmortem_at,
            NEW.updates, NEW.late_updates);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER incidents_stats_added AFTER INSERT OR DELETE ON incidents
    FOR EACH ROW EXECUTE FUNCTION stats_log();
CREATE TRIGGER incidents_stats_changed AFTER UPDATE ON incidents
    FOR EACH ROW
    WHEN (OLD.severity IS DISTINCT FROM NEW.severity
       OR OLD.status IS DISTINCT FROM NEW.status
       OR OLD.drill IS DISTINCT FROM NEW.drill
       OR OLD.failure_class IS DISTINCT FROM NEW.failure_class
       OR OLD.opened_at IS DISTINCT FROM NEW.opened_at
       OR OLD.investigating_at IS DISTINCT FROM NEW.investigating_at
       OR OLD.mitigated_at IS DISTINCT FROM NEW.mitigated_at
       OR OLD.resolved_at IS DISTINCT FROM NEW.resolved_at
       OR OLD.postmortem_at IS DISTINCT FROM NEW.postmortem_at
       OR OLD.updates IS DISTINCT FROM NEW.updates
       OR OLD.late_updates IS DISTINCT FROM NEW.late_updates)
    EXECUTE FUNCTION stats_log();

-- The incidents already there, to be folded like any change.
INSERT INTO stats_changes (sign, severity, status, drill, failure_class, opened_at,
    investigating_at, mitigated_at, resolved_at, postmortem_at, updates, late_updates)
SELECT 1, severity, status, drill, failure_class, opened_at, investigating_at,
    mitigated_at, resolved_at, postmortem_at, updates, late_updates
FROM incidents ORDER BY id;
