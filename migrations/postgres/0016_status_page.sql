-- The public status page: when an incident was made public, and the components it
-- affects (comma-separated). Its customer-facing messages are `public` events.
ALTER TABLE incidents ADD COLUMN public_at TIMESTAMPTZ;
ALTER TABLE incidents ADD COLUMN components TEXT;
CREATE INDEX incidents_public ON incidents (public_at) WHERE public_at IS NOT NULL;
