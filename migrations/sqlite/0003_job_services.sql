-- Jobs name the service they call; each incident's jobs run in order per service, so a
-- Confluence retry never holds back a Slack post. A job fails for good only on a
-- permanent refusal or once it has failed for longer than the retry horizon, counted
-- from its first failure (failing_since).
ALTER TABLE jobs ADD COLUMN service TEXT NOT NULL DEFAULT 'slack';
ALTER TABLE jobs ADD COLUMN failing_since TEXT;
DROP INDEX jobs_by_incident;
CREATE INDEX jobs_by_incident ON jobs (incident_id, service, state, id);
-- /metrics counts the unfinished jobs only, whatever the number of finished ones.
CREATE INDEX jobs_unfinished ON jobs (service, state) WHERE state <> 'done';
-- Finished jobs are deleted after a retention.
CREATE INDEX jobs_done ON jobs (finished_at) WHERE state = 'done';
