-- Old names left by renaming a repository or its owner, or transferring a repository: the old
-- web and git URLs keep leading to the repository (by id, so a second rename never builds a
-- chain) until the old name is taken again.
CREATE TABLE repo_redirects (
    owner_name TEXT NOT NULL,
    repo_name  TEXT NOT NULL,
    repo_id    BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX repo_redirects_path_key ON repo_redirects (lower(owner_name), lower(repo_name));
CREATE INDEX repo_redirects_repo_id ON repo_redirects (repo_id);

-- An owner's (user's or organization's) old name, for its profile page.
CREATE TABLE owner_redirects (
    old_name   TEXT NOT NULL,
    owner_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX owner_redirects_name_key ON owner_redirects (lower(old_name));

-- Taking a name again ends its redirect, however the name is taken (created, renamed into,
-- transferred into): done here so that no writer can forget it.
CREATE FUNCTION repo_path_taken() RETURNS trigger AS $$
BEGIN
    DELETE FROM repo_redirects
    WHERE lower(repo_name) = lower(NEW.name)
      AND lower(owner_name) = (SELECT lower(name) FROM users WHERE id = NEW.owner_id);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER repositories_path_taken AFTER INSERT OR UPDATE OF name, owner_id ON repositories
    FOR EACH ROW EXECUTE FUNCTION repo_path_taken();

-- A new owner of a name gets the whole name space: the old owner's repositories stop redirecting.
CREATE FUNCTION owner_name_taken() RETURNS trigger AS $$
BEGIN
    DELETE FROM owner_redirects WHERE lower(old_name) = lower(NEW.name);
    DELETE FROM repo_redirects WHERE lower(owner_name) = lower(NEW.name);
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER users_name_taken AFTER INSERT OR UPDATE OF name ON users
    FOR EACH ROW EXECUTE FUNCTION owner_name_taken();
