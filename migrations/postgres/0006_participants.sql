-- People who joined an incident's channel (Slack's member_joined_channel), once each.
CREATE TABLE incident_participants (
    incident_id BIGINT NOT NULL REFERENCES incidents (id),
    user_id     TEXT NOT NULL,
    joined_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);
