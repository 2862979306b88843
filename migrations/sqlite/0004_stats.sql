-- Manager statistics read a range of `opened_at` and only these columns: a covering
-- index, so the table itself is not read.
CREATE INDEX incidents_stats ON incidents
    (opened_at, severity, status, investigating_at, mitigated_at, resolved_at, postmortem_at);
