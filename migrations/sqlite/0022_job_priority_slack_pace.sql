-- A storm of incidents within Slack's method tiers. Due jobs are claimed by priority
-- (the incident's severity first, then the channel's setup before its updates, and
-- those before announcements), then oldest first. Calls to Slack are paced per method
-- (and per channel for chat.postMessage) through one row each, shared by every
-- instance: the earliest time, in milliseconds since the epoch, at which the next call
-- may go.
ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 42;
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (priority, id) WHERE state = 'pending';
CREATE TABLE slack_pace (
    key     TEXT PRIMARY KEY,
    next_ms INTEGER NOT NULL
);
