-- One announcement per incident, edited in place: the `ts` of its message in the
-- announce channel. Changes are replies in its thread.
ALTER TABLE incidents ADD COLUMN announce_ts TEXT;
-- Slack display names as last read (`users.info`), refreshed after a day, so pages,
-- exports and scoreboards show names rather than ids.
CREATE TABLE slack_names (
    user_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
