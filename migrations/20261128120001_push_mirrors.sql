-- Push mirrors: after every push (and on "sync now") a repository is pushed to a remote
-- elsewhere. Credentials live here only: never in the repository's git config, never on a
-- command line. SSH mirrors get a key pair generated for them; HTTPS ones a user name and token.
--
-- The row is its own sync queue: a push sets `sync_wanted` in the push's transaction (the
-- outbox), so pushes that arrive meanwhile coalesce into one sync (which pushes the repository as
-- it is then: the newest wins). The worker claims a due row with FOR UPDATE SKIP LOCKED and marks
-- it `syncing`, so syncs of one mirror never overlap; a row still `syncing` at the next start was
-- cut off and is wanted again.
CREATE TABLE push_mirrors (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id         BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    remote_url      TEXT NOT NULL,
    auth            TEXT NOT NULL CHECK (auth IN ('ssh', 'https')),
    username        TEXT NOT NULL DEFAULT '',
    token           TEXT NOT NULL DEFAULT '',
    ssh_private_key TEXT NOT NULL DEFAULT '',
    ssh_public_key  TEXT NOT NULL DEFAULT '',
    -- The far side's SSH host key ("TYPE BASE64"), pinned at the first successful sync.
    host_key        TEXT,
    -- 'mirror': every ref, deletions follow (git push --mirror); 'branches': branches and tags.
    scope           TEXT NOT NULL DEFAULT 'mirror' CHECK (scope IN ('mirror', 'branches')),
    sync_on_push    BOOLEAN NOT NULL DEFAULT true,
    sync_wanted     BOOLEAN NOT NULL DEFAULT false,
    syncing         BOOLEAN NOT NULL DEFAULT false,
    failures        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at TIMESTAMPTZ,
    last_success_at TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX push_mirrors_repo ON push_mirrors (repo_id, id);
CREATE INDEX push_mirrors_due ON push_mirrors (next_attempt_at) WHERE sync_wanted AND NOT syncing;
