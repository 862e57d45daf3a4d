-- `labforge admin user disable NAME`: a disabled user keeps their repositories and history but
-- can do nothing over the web, the API, HTTP git or SSH until enabled again.
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false;
