-- A session begun through the identity provider: its holder is `sso:EMAIL`, with the
-- role it was given at sign-in and the Slack user of that email, if any (who may see
-- their private incidents). A token's session has neither.
ALTER TABLE sessions ADD COLUMN role TEXT;
ALTER TABLE sessions ADD COLUMN slack_user TEXT;
