-- Gitea's User object says when a user last signed in with their password (`last_login`,
-- shown to themselves and to admins); NULL until the first sign-in after this migration.
ALTER TABLE users ADD COLUMN last_login_at TIMESTAMPTZ;

-- The last eight characters of a token, as Gitea lists them (`token_last_eight`), so an owner
-- can tell tokens apart; the rest of the secret is never stored. Empty for older tokens.
ALTER TABLE access_tokens ADD COLUMN last_eight TEXT NOT NULL DEFAULT '';
