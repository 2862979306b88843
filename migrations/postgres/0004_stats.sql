-- Manager statistics read a range of `opened_at` and only these columns: an index-only
-- scan over the range, whatever else the table holds.
CREATE INDEX incidents_stats ON incidents (opened_at)
    INCLUDE (severity, status, investigating_at, mitigated_at, resolved_at, postmortem_at);
