-- Organizations: owners like users, in the same `users` table, marked by `kind`. They share the
-- one name space (`lab/dns` resolves the same way whoever owns it, and the unique name index
-- already keeps a user and an organization from sharing a name), and every repository keeps
-- pointing at `users (id)` through `owner_id`: nothing that reads a repository's owner changes.
-- Organizations never sign in: the queries that find an account to authenticate read
-- `kind = 'user'` only, and an organization's e-mail and password hash stay empty.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user'
    CHECK (kind IN ('user', 'organization'));
ALTER TABLE users ADD CONSTRAINT users_org_has_no_password
    CHECK (kind = 'user' OR (password_hash = '' AND email = '' AND NOT is_admin));
-- Only accounts' addresses are unique: organizations have none.
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE kind = 'user';

-- An organization's profile, beside its `users` row.
CREATE TABLE organizations (
    id          BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    -- public: anyone; limited: signed-in users; private: members only (its repositories are
    -- invisible to others whatever their own setting).
    visibility  TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'limited', 'private'))
);

CREATE TABLE org_members (
    org_id     BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Owners manage the organization, its repositories and teams (admin on every repository).
    is_owner   BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user_id ON org_members (user_id);

CREATE TABLE teams (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    access      TEXT NOT NULL CHECK (access IN ('read', 'write', 'admin')),
    -- Every repository of the organization, present and future; otherwise those in team_repos.
    all_repos   BOOLEAN NOT NULL DEFAULT false,
    -- Members may create repositories under the organization.
    can_create  BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);
CREATE UNIQUE INDEX teams_org_name_key ON teams (org_id, lower(name));

-- A team member is a member of the team's organization: the second key makes removing someone
-- from the organization remove them from its teams in the same statement, so their access ends
-- at once.
CREATE TABLE team_members (
    team_id BIGINT NOT NULL,
    org_id  BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX team_members_user_id ON team_members (user_id);

-- The chosen repositories of a team that does not cover them all; the repository belongs to the
-- team's organization (the same pair of keys as above keeps it so).
ALTER TABLE repositories ADD CONSTRAINT repositories_owner_id_key UNIQUE (owner_id, id);
CREATE TABLE team_repos (
    team_id BIGINT NOT NULL,
    org_id  BIGINT NOT NULL,
    repo_id BIGINT NOT NULL,
    PRIMARY KEY (team_id, repo_id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, repo_id) REFERENCES repositories (owner_id, id) ON DELETE CASCADE
);
CREATE INDEX team_repos_repo_id ON team_repos (repo_id);
