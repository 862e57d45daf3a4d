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
