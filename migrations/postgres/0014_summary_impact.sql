-- What is happening and who is affected, as people last said (`/incident summary`,
-- `/incident impact`, the Edit form).
ALTER TABLE incidents ADD COLUMN summary TEXT;
ALTER TABLE incidents ADD COLUMN impact TEXT;
