-- Deploy keys: an SSH public key attached to one repository, read-only or read-write, as Flux
-- and Argo CD use them. The same key may be attached to several repositories (one row each, as
-- Gitea keeps them, each with its own id for the API); the key itself is its fingerprint.

CREATE TABLE deploy_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id      BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    read_only    BOOLEAN NOT NULL DEFAULT true,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX deploy_keys_repo_fingerprint_key ON deploy_keys (repo_id, fingerprint);
CREATE UNIQUE INDEX deploy_keys_repo_title_key ON deploy_keys (repo_id, lower(title));
CREATE INDEX deploy_keys_fingerprint ON deploy_keys (fingerprint);

-- A key is either a user's or a deploy key, never both: who it identifies must not depend on
-- which table a lookup tries first. Each insert takes a lock named by the fingerprint before it
-- looks at the other table, so two transactions adding the same key both ways cannot both pass;
-- the refusal is a unique violation naming a constraint, which the domain words for people.
CREATE FUNCTION ssh_key_kinds_apart() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('labforge ssh key ' || NEW.fingerprint, 0));
    IF TG_TABLE_NAME = 'ssh_keys' THEN
        IF EXISTS (SELECT 1 FROM deploy_keys WHERE fingerprint = NEW.fingerprint) THEN
            RAISE EXCEPTION 'that SSH key is a deploy key'
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'ssh_keys_not_deploy_keys';
        END IF;
    ELSIF EXISTS (SELECT 1 FROM ssh_keys WHERE fingerprint = NEW.fingerprint) THEN
        RAISE EXCEPTION 'that SSH key is a user''s key'
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'deploy_keys_not_user_keys';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ssh_keys_apart BEFORE INSERT OR UPDATE OF fingerprint ON ssh_keys
    FOR EACH ROW EXECUTE FUNCTION ssh_key_kinds_apart();
CREATE TRIGGER deploy_keys_apart BEFORE INSERT OR UPDATE OF fingerprint ON deploy_keys
    FOR EACH ROW EXECUTE FUNCTION ssh_key_kinds_apart();
