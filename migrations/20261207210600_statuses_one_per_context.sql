-- A commit keeps one status per context, the latest, as Gitea does: 12,000 statuses posted with
-- different contexts on one commit made its page 41 MB. Older rows of a context go; the row kept
-- remembers when its context was first and last reported.
DELETE FROM commit_statuses
WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY repo_id, sha, context ORDER BY id DESC) AS n
        FROM commit_statuses
    ) ranked
    WHERE n > 1
);

ALTER TABLE commit_statuses ADD COLUMN updated_at TIMESTAMPTZ;
UPDATE commit_statuses SET updated_at = created_at;
ALTER TABLE commit_statuses ALTER COLUMN updated_at SET NOT NULL,
                            ALTER COLUMN updated_at SET DEFAULT now();

DROP INDEX commit_statuses_commit;
CREATE UNIQUE INDEX commit_statuses_context ON commit_statuses (repo_id, sha, context);
