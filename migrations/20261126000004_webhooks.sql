-- Webhooks defined by repository admins, and their deliveries: the outbox the worker sends from.
--
-- A delivery is queued in the same transaction as the event that causes it (a push, a deploy
-- status change, an issue) and keeps the payload's exact bytes, so a retry or a redelivery sends
-- the same body. The worker claims due rows with FOR UPDATE SKIP LOCKED and marks them
-- `delivering`; a row still `delivering` at the next start was cut off by a crash and is retried.
CREATE TABLE webhooks (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id       BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    content_type  TEXT NOT NULL DEFAULT 'json' CHECK (content_type IN ('json', 'form')),
    -- Empty: deliveries are not signed.
    secret        TEXT NOT NULL DEFAULT '',
    events        TEXT[] NOT NULL,
    -- A glob on branch names; empty or '*' is every branch.
    branch_filter TEXT NOT NULL DEFAULT '',
    active        BOOLEAN NOT NULL DEFAULT true,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_repo ON webhooks (repo_id, id);

CREATE TABLE webhook_deliveries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hook_id          BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    -- The payload's `action` where the event has one (issues: opened, closed, ...).
    action           TEXT NOT NULL DEFAULT '',
    -- X-GitHub-Delivery / webhook-id: new for every delivery, the same across its retries.
    guid             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    -- Set on a manual redelivery: the delivery whose payload this one repeats.
    redelivery_of    BIGINT REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'delivering', 'delivered', 'retrying', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The last attempt: what was sent and what came back.
    request_headers  TEXT NOT NULL DEFAULT '',
    response_status  INTEGER,
    response_headers TEXT NOT NULL DEFAULT '',
    -- At most 4 KiB of the response body.
    response_body    TEXT NOT NULL DEFAULT '',
    duration_ms      INTEGER,
    error            TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at  TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX webhook_deliveries_guid_key ON webhook_deliveries (guid);
-- The worker's claim: due rows only, oldest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE state IN ('queued', 'retrying');
CREATE INDEX webhook_deliveries_delivering ON webhook_deliveries (id) WHERE state = 'delivering';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (hook_id, id DESC);
