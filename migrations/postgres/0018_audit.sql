-- The audit trail: every administrative act, with who, when and from where (sign-ins
-- and their failures, tokens made, revoked and a revoked one used, job retries, CSV
-- exports, permission refusals, villains named). Kept `audit.keep_days`.
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at);
