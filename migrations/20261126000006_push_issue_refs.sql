-- When a received push's commit messages were applied to issues (`fixes #12`). A push received
-- but not yet applied (the server stopped in between) is applied at the next start; applying is
-- idempotent per (issue, commit, kind), so doing it again changes nothing.
ALTER TABLE push_events ADD COLUMN issues_applied_at TIMESTAMPTZ;
CREATE INDEX push_events_issues_pending ON push_events (id)
    WHERE state = 'received' AND issues_applied_at IS NULL;
