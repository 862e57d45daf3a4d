-- Pull mirrors: repositories that follow a repository elsewhere. Each sync fetches the remote's
-- branches and tags (rewrites and deletions included, as the remote says) and then runs the
-- same post-push work a push does (events, deploys, webhooks, push mirrors, `fixes #N`).
--
-- Syncs are scheduled here, not in memory: `next_sync_at` is the interval plus a random tenth
-- after the last attempt, so mirrors added together drift apart instead of syncing in a storm; a
-- sync claims its row (`syncing`, FOR UPDATE SKIP LOCKED), so one repository never has two; a row
-- still `syncing` at the next start was cut off and is due again.
CREATE TABLE pull_mirrors (
    repo_id         BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    remote_url      TEXT NOT NULL,
    username        TEXT NOT NULL DEFAULT '',
    token           TEXT NOT NULL DEFAULT '',
    interval_secs   INTEGER NOT NULL CHECK (interval_secs >= 600),
    next_sync_at    TIMESTAMPTZ NOT NULL,
    syncing         BOOLEAN NOT NULL DEFAULT false,
    last_attempt_at TIMESTAMPTZ,
    last_success_at TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pull_mirrors_due ON pull_mirrors (next_sync_at) WHERE NOT syncing;
