-- What site admins did (issue 24, site administration): who, what, when, on what. Kept as text,
-- not foreign keys, so the record outlives the users it names (a deleted user stays named).
CREATE TABLE admin_audit (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The site admin's user name, or 'operator' for `labforge admin …` at the command line.
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX admin_audit_newest ON admin_audit (id DESC);
