-- Scoped API tokens: only a SHA-256 of each is kept; revoked ones stay, for the record.
CREATE TABLE api_tokens (
    name          TEXT PRIMARY KEY,
    hash          TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
