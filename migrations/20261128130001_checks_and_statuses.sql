-- Checks (`[[check]]`, run by pre-receive before a push lands) and commit statuses (checks,
-- deploys and outside CI reporting on commits, in Gitea's shape).

-- One run of one check on one pushed ref, recorded when it ends (a dry run records nothing).
-- The commit may never have landed: a failed check refuses the push, and its log is still here.
CREATE TABLE check_runs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id      BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    check_name   TEXT NOT NULL,
    ref_name     TEXT NOT NULL,
    old_id       TEXT NOT NULL,
    new_id       TEXT NOT NULL,
    pusher_name  TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('passed', 'failed', 'timed_out', 'error')),
    exit_code    INT,
    sandboxed    BOOLEAN NOT NULL,
    log_truncated BOOLEAN NOT NULL DEFAULT false,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX check_runs_repo ON check_runs (repo_id, id DESC);

-- A run's output: the check's own lines (o) and labforge's notes (s), in order.
CREATE TABLE check_log (
    run_id BIGINT NOT NULL REFERENCES check_runs (id) ON DELETE CASCADE,
    seq    INT NOT NULL,
    stream CHAR(1) NOT NULL CHECK (stream IN ('o', 's')),
    line   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- Every status ever reported; a commit's current state per context is its newest row there.
CREATE TABLE commit_statuses (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id      BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    sha          TEXT NOT NULL CHECK (sha ~ '^[0-9a-f]{40}$'),
    context      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'success', 'error', 'failure', 'warning', 'skipped')),
    description  TEXT NOT NULL DEFAULT '',
    target_url   TEXT NOT NULL DEFAULT '',
    creator_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    creator_name TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- "The newest status per context of these commits" (log pages ask for 50 commits at once).
CREATE INDEX commit_statuses_commit ON commit_statuses (repo_id, sha, context, id DESC);

-- `labforge admin protect OWNER/REPO BRANCH --require-check NAME`: a push to the branch lands only
-- when each named check ran on it and passed.
ALTER TABLE protected_branches ADD COLUMN required_checks TEXT[] NOT NULL DEFAULT '{}';

-- `git push -o skip-checks` by a repository admin: the checks did not run, and pages say so.
ALTER TABLE push_events ADD COLUMN checks_skipped BOOLEAN NOT NULL DEFAULT false;
-- Which push brought a commit (the commit page says when its checks were skipped).
CREATE INDEX push_event_refs_new_id ON push_event_refs (new_id);
