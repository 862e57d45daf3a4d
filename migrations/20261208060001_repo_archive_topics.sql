-- Gitea's repository fields the API answers with (issue 25): an archive flag (an archived
-- repository refuses pushes and issue writes until unarchived), when the row last changed,
-- and the repository's topics (lower-case, at most 25, each at most 35 characters; checked
-- by the domain, as Gitea checks them).
ALTER TABLE repositories ADD COLUMN archived BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE repositories ADD COLUMN archived_at TIMESTAMPTZ;
ALTER TABLE repositories ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE repositories ADD COLUMN topics TEXT[] NOT NULL DEFAULT '{}';
UPDATE repositories SET updated_at = COALESCE(pushed_at, created_at);
-- When a branch rule last changed, for the API's BranchProtection.updated_at.
ALTER TABLE protected_branches ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
