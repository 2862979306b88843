-- What Slack delivered and pompier acted on, by a key of Slack's (a modal's view id,
-- an event id): a retried or doubled delivery is acted on once. Written in the same
-- transaction as what it caused.
CREATE TABLE slack_deliveries (
    key TEXT PRIMARY KEY,
    at  TIMESTAMPTZ NOT NULL
);
