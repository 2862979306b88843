-- Jira issues: one per incident (`followup` 0) and one per follow-up (its number). The
-- row is written before the issue is made (`attempted_at`), its key once Jira answered:
-- a retry after a lost answer looks the issue up by its label before making another.
CREATE TABLE jira_issues (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    followup     INTEGER NOT NULL DEFAULT 0,
    key          TEXT,
    url          TEXT,
    attempted_at TEXT,
    PRIMARY KEY (incident_id, followup)
);
CREATE UNIQUE INDEX jira_issues_key ON jira_issues (key);
