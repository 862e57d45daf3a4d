-- Start-up recovery settles each pending push (and replays its issue references) with a budget
-- of its own; one that fails or runs out of time is marked, with the reason, instead of
-- blocking the start or being retried at every start.
ALTER TABLE push_events DROP CONSTRAINT push_events_state_check;
ALTER TABLE push_events ADD CONSTRAINT push_events_state_check
    CHECK (state IN ('pending', 'received', 'abandoned', 'failed'));
ALTER TABLE push_events ADD COLUMN recovery_error TEXT;
DROP INDEX push_events_issues_pending;
CREATE INDEX push_events_issues_pending ON push_events (id)
    WHERE state = 'received' AND issues_applied_at IS NULL AND recovery_error IS NULL;
