-- Update cadence: when the incident last had a timeline event, when pompier last nudged
-- its channel for an update, and how many updates came within their interval.
ALTER TABLE incidents ADD COLUMN last_event_at TEXT;
ALTER TABLE incidents ADD COLUMN nudged_at TEXT;
ALTER TABLE incidents ADD COLUMN updates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN late_updates INTEGER NOT NULL DEFAULT 0;
UPDATE incidents SET last_event_at = (SELECT MAX(at) FROM events WHERE events.incident_id = incidents.id);
DROP INDEX incidents_stats;
CREATE INDEX incidents_stats ON incidents
    (opened_at, severity, status, investigating_at, mitigated_at, resolved_at, postmortem_at, failure_class,
     updates, late_updates)
    WHERE NOT drill;
