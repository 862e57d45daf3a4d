-- Issues: per-repository numbers, labels, comments and a timeline of events.
--
-- Numbers come from one counter row per repository, bumped with `INSERT ... ON CONFLICT DO UPDATE
-- ... RETURNING` in the transaction that inserts the issue: the row lock serialises concurrent
-- openers, so numbers are dense and never reused (a rolled-back opener releases nothing twice
-- because its bump rolls back with it). The same row keeps the open count the repository tabs
-- show, updated in the transactions that open, close and reopen.
--
-- Full-text search uses the 'english' configuration: issue text is prose ("fails", "failing",
-- "failed" should find each other, and "the"/"a" should not match everything), and hostnames,
-- paths and version strings are kept whole by the parser, so stemming costs little for the
-- identifiers homelab issues mention. Queries go through websearch_to_tsquery, which never
-- raises on user input ("quoted phrases", -exclusions, or).

CREATE TABLE issue_counters (
    repo_id     BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    last_number BIGINT NOT NULL DEFAULT 0,
    open_count  BIGINT NOT NULL DEFAULT 0 CHECK (open_count >= 0)
);

CREATE TABLE issues (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id          BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    number           BIGINT NOT NULL CHECK (number > 0),
    -- A deleted user's issues stay (shown as "ghost"), as on GitHub.
    author_id        BIGINT REFERENCES users (id) ON DELETE SET NULL,
    title            TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 255),
    body             TEXT NOT NULL DEFAULT '' CHECK (length(body) <= 65536),
    state            TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    closed_by_id     BIGINT REFERENCES users (id) ON DELETE SET NULL,
    -- Set when a pushed commit closed the issue.
    closed_by_commit TEXT,
    closed_at        TIMESTAMPTZ,
    comment_count    INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    search           TSVECTOR GENERATED ALWAYS AS (
                         setweight(to_tsvector('english'::regconfig, title), 'A')
                         || setweight(to_tsvector('english'::regconfig, body), 'B')) STORED,
    -- All comments' text, rewritten in the transaction that adds or edits a comment. Kept on the
    -- issue rather than searched in the comments table so that one scan of issues answers a
    -- search: the planner can then either walk the newest issues testing each (a common term)
    -- or OR both GIN indexes (a rare one), and never sorts thousands of hits to show 25.
    comments_search  TSVECTOR NOT NULL DEFAULT '',
    CHECK ((state = 'closed') = (closed_at IS NOT NULL))
);
-- The list: newest first within (repository, state), and within a repository for state=all.
CREATE UNIQUE INDEX issues_repo_number_key ON issues (repo_id, number);
CREATE INDEX issues_repo_state_number ON issues (repo_id, state, number DESC);
CREATE INDEX issues_author ON issues (author_id, repo_id, number DESC);
CREATE INDEX issues_search ON issues USING GIN (search);
CREATE INDEX issues_comments_search ON issues USING GIN (comments_search);
-- Whether a search walks the newest issues or reads the GIN indexes depends on how often the
-- planner thinks the words occur. With the default statistics a word it has never seen is
-- guessed at half the rarest tracked word's frequency, high enough that a search for a word no
-- issue contains walked all 66,000 open issues of the bench (0.5 s); tracking ten times more
-- words brings that guess down and the search to a few milliseconds (bench/RESULTS.md).
ALTER TABLE issues ALTER COLUMN search SET STATISTICS 1000,
                   ALTER COLUMN comments_search SET STATISTICS 1000;

CREATE TABLE labels (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id     BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    color       TEXT NOT NULL CHECK (color ~ '^#[0-9a-f]{6}$'),
    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 200)
);
CREATE UNIQUE INDEX labels_repo_name_key ON labels (repo_id, lower(name));

CREATE TABLE issue_labels (
    label_id BIGINT NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    issue_id BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    -- Copies of the issue's number and state (kept in step by the transactions that close and
    -- reopen), so a label filter walks one index in list order: `wontfix` issues, nearly all
    -- closed, would otherwise make "open + wontfix" test every open issue.
    number   BIGINT NOT NULL,
    is_open  BOOLEAN NOT NULL,
    PRIMARY KEY (label_id, issue_id)
);
CREATE INDEX issue_labels_issue ON issue_labels (issue_id);
CREATE INDEX issue_labels_list ON issue_labels (label_id, is_open, number DESC);

CREATE TABLE issue_comments (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id   BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    author_id  BIGINT REFERENCES users (id) ON DELETE SET NULL,
    body       TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 65536),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX issue_comments_issue ON issue_comments (issue_id, id);

-- The timeline. `kind` says what happened; the columns beside it say to what or by what.
CREATE TABLE issue_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id        BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    actor_id        BIGINT REFERENCES users (id) ON DELETE SET NULL,
    kind            TEXT NOT NULL CHECK (kind IN (
                        'opened', 'commented', 'labeled', 'unlabeled', 'closed', 'reopened',
                        'referenced', 'renamed')),
    comment_id      BIGINT REFERENCES issue_comments (id) ON DELETE CASCADE,
    -- Kept by name and colour: the event still reads right after the label is renamed or deleted.
    label_name      TEXT,
    label_color     TEXT,
    -- A commit that closed or referenced the issue.
    commit_id       TEXT CHECK (commit_id ~ '^[0-9a-f]{40}$'),
    -- Another issue whose text mentioned this one.
    source_issue_id BIGINT REFERENCES issues (id) ON DELETE CASCADE,
    -- The old title of a 'renamed' event.
    old_title       TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX issue_events_issue ON issue_events (issue_id, id);
-- What makes commit processing idempotent: one 'closed' and one 'referenced' per (issue, commit),
-- however often the commit is pushed or the push event processed.
CREATE UNIQUE INDEX issue_events_commit_key ON issue_events (issue_id, commit_id, kind)
    WHERE commit_id IS NOT NULL;
CREATE UNIQUE INDEX issue_events_source_key ON issue_events (issue_id, source_issue_id)
    WHERE source_issue_id IS NOT NULL;
