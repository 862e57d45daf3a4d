-- Pushes as git reports them through the pre-receive and post-receive hooks.
--
-- pre-receive writes a `pending` event with the updates it was asked to allow; post-receive turns it
-- `received` with the updates git actually made and, in the same transaction, queues the jobs the
-- push triggers (deploy runs, webhook deliveries): the outbox. A push whose post-receive never came
-- (the server died in between) is settled at the next start by comparing the refs on disk.
CREATE TABLE push_events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id      BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    pusher_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    pusher_name  TEXT NOT NULL,
    -- One per receive-pack run, made by the transport and handed to both hooks.
    nonce        TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'received', 'abandoned')),
    push_options TEXT[] NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    received_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX push_events_nonce_key ON push_events (nonce);
CREATE INDEX push_events_repo ON push_events (repo_id, id DESC);
CREATE INDEX push_events_pending ON push_events (id) WHERE state = 'pending';

CREATE TABLE push_event_refs (
    event_id BIGINT NOT NULL REFERENCES push_events (id) ON DELETE CASCADE,
    ref_name TEXT NOT NULL,
    -- 40 zeros for a created or deleted ref, as git writes them.
    old_id   TEXT NOT NULL,
    new_id   TEXT NOT NULL,
    PRIMARY KEY (event_id, ref_name)
);

-- Branch protection, checked by pre-receive: no force-push, no deletion, optionally admins only.
CREATE TABLE protected_branches (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id     BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    -- A glob on the branch name (`main`, `release/*`).
    pattern     TEXT NOT NULL,
    admins_only BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX protected_branches_repo_pattern_key ON protected_branches (repo_id, pattern);

-- Deploy runs are the deploy outbox: queued in post-receive's transaction, taken by the worker
-- with FOR UPDATE SKIP LOCKED. The deploy itself (command, trigger) is the operator's config;
-- a run keeps its name so history survives config changes.
CREATE TABLE deploy_runs (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id           BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    deploy_name       TEXT NOT NULL,
    ref_name          TEXT NOT NULL,
    old_id            TEXT NOT NULL,
    new_id            TEXT NOT NULL,
    push_event_id     BIGINT REFERENCES push_events (id) ON DELETE SET NULL,
    -- push, rerun (of rerun_of) or manual (a chosen commit: "deploy this commit", rollback).
    reason            TEXT NOT NULL CHECK (reason IN ('push', 'rerun', 'manual')),
    rerun_of          BIGINT REFERENCES deploy_runs (id) ON DELETE SET NULL,
    triggered_by_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    triggered_by_name TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running',
                      'succeeded', 'failed', 'timed_out', 'superseded', 'interrupted', 'cancelled')),
    exit_code         INT,
    log_truncated     BOOLEAN NOT NULL DEFAULT false,
    queued_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at        TIMESTAMPTZ,
    finished_at       TIMESTAMPTZ
);
CREATE INDEX deploy_runs_repo ON deploy_runs (repo_id, id DESC);
CREATE INDEX deploy_runs_waiting ON deploy_runs (id) WHERE status IN ('queued', 'running');

-- A run's output, a line per row: stdout (o), stderr (e) or labforge's own notes (s).
CREATE TABLE deploy_log (
    run_id BIGINT NOT NULL REFERENCES deploy_runs (id) ON DELETE CASCADE,
    seq    INT NOT NULL,
    at     TIMESTAMPTZ NOT NULL,
    stream CHAR(1) NOT NULL CHECK (stream IN ('o', 'e', 's')),
    line   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
