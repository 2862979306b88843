-- Pages sent out (PagerDuty, Opsgenie), one row per incident, service and team ('' for
-- the default routing): its state as pompier last told the pager. Acknowledge and
-- resolve go to every page of the incident, with the team's routing.
CREATE TABLE pages (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    service     TEXT NOT NULL,
    team        TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL CHECK (state IN ('triggered', 'acknowledged', 'resolved')),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (incident_id, service, team)
);
