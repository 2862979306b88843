-- Dashboard sessions, kept on the server so a sign-out ends them on every instance: the
-- hash of the cookie's random id (never the id), who signed in (`admin`, or a token's
-- name), a print of the operator's token for `admin` (changing the token ends them),
-- and their idle and absolute ends.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    operator_print TEXT,
    created_at TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
