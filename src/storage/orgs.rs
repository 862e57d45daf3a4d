//! Organizations, their members and teams. An organization is a `users` row of kind
//! `organization` (one name space with users; repositories point at it like at a user) with
//! its profile in `organizations`.

use super::{Db, Result, on_constraint};
use crate::model::{OrgFacts, OrgMember, OrgRole, OrgVisibility, RepoAccess};

#[derive(Debug, Clone)]
pub struct OrgRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub visibility: OrgVisibility,
}

#[derive(Debug, Clone)]
pub struct TeamRow {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub access: RepoAccess,
    pub all_repos: bool,
    pub can_create: bool,
}

pub struct NewTeam<'a> {
    pub org_id: i64,
    pub name: &'a str,
    pub access: RepoAccess,
    pub all_repos: bool,
    pub can_create: bool,
}

/// The highest of a set of team levels, from the rank SQL computes (`read` 1 … `admin` 3).
fn level_of_rank(rank: Option<i32>) -> Option<RepoAccess> {
    match rank {
        Some(3) => Some(RepoAccess::Admin),
        Some(2) => Some(RepoAccess::Write),
        Some(1) => Some(RepoAccess::Read),
        _ => None,
    }
}

/// The access rule's facts from one row of `org_facts`' shape.
pub(super) fn facts_of(
    visibility: Option<OrgVisibility>,
    is_owner: Option<bool>,
    team_rank: Option<i32>,
) -> Option<OrgFacts> {
    visibility.map(|visibility| OrgFacts {
        visibility,
        role: is_owner.map(|o| if o { OrgRole::Owner } else { OrgRole::Member }),
        team: level_of_rank(team_rank),
    })
}

impl Db {
    /// What the access rule needs about the organization `owner_id` (None if a user owns the
    /// repository): its visibility, `user_id`'s membership, and the highest level among
    /// `user_id`'s teams covering `repo_id`. One query, run for missing repositories too (with
    /// ids no row has), so their answer costs what a hidden one's does.
    pub async fn org_facts(
        &self,
        owner_id: i64,
        repo_id: i64,
        user_id: i64,
    ) -> Result<Option<OrgFacts>> {
        let row = sqlx::query!(
            r#"SELECT o.visibility AS "visibility: OrgVisibility", m.is_owner AS "is_owner?",
                      (SELECT max(CASE t.access WHEN 'admin' THEN 3 WHEN 'write' THEN 2 ELSE 1 END)
                       FROM teams t JOIN team_members tm ON tm.team_id = t.id
                       WHERE t.org_id = o.id AND tm.user_id = $2
                         AND (t.all_repos OR EXISTS (SELECT 1 FROM team_repos tr
                                                     WHERE tr.team_id = t.id AND tr.repo_id = $3))
                      ) AS team_rank
               FROM organizations o
               LEFT JOIN org_members m ON m.org_id = o.id AND m.user_id = $2
               WHERE o.id = $1"#,
            owner_id,
            user_id,
            repo_id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| facts_of(Some(r.visibility), r.is_owner, r.team_rank)))
    }

    /// Creates the organization (its `users` row and profile) with `owner_id`, if any, as its
    /// first owner, in one transaction.
    pub async fn insert_org(
        &self,
        name: &str,
        description: &str,
        visibility: OrgVisibility,
        owner_id: Option<i64>,
    ) -> Result<OrgRow> {
        let mut tx = self.pool.begin().await?;
        let id = sqlx::query_scalar!(
            "INSERT INTO users (name, email, password_hash, is_admin, kind)
             VALUES ($1, '', '', false, 'organization') RETURNING id",
            name
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(on_constraint)?;
        sqlx::query!(
            "INSERT INTO organizations (id, description, visibility) VALUES ($1, $2, $3)",
            id,
            description,
            visibility.as_str()
        )
        .execute(&mut *tx)
        .await?;
        if let Some(owner) = owner_id {
            sqlx::query!(
                "INSERT INTO org_members (org_id, user_id, is_owner) VALUES ($1, $2, true)",
                id,
                owner
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(OrgRow {
            id,
            name: name.to_owned(),
            description: description.to_owned(),
            visibility,
        })
    }

    /// The id of the user or organization named `name`: an owner of either kind.
    pub async fn owner_id_by_name(&self, name: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar!("SELECT id FROM users WHERE lower(name) = lower($1)", name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn org_by_name(&self, name: &str) -> Result<Option<OrgRow>> {
        Ok(sqlx::query_as!(
            OrgRow,
            r#"SELECT u.id, u.name, o.description, o.visibility AS "visibility: OrgVisibility"
               FROM users u JOIN organizations o ON o.id = u.id
               WHERE lower(u.name) = lower($1)"#,
            name
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn list_orgs(&self) -> Result<Vec<OrgRow>> {
        Ok(sqlx::query_as!(
            OrgRow,
            r#"SELECT u.id, u.name, o.description, o.visibility AS "visibility: OrgVisibility"
               FROM users u JOIN organizations o ON o.id = u.id ORDER BY lower(u.name)"#
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The organizations `user_id` belongs to, and whether they own each.
    pub async fn orgs_of_user(&self, user_id: i64) -> Result<Vec<(OrgRow, bool)>> {
        let rows = sqlx::query!(
            r#"SELECT u.id, u.name, o.description, o.visibility AS "visibility: OrgVisibility",
                      m.is_owner
               FROM org_members m JOIN organizations o ON o.id = m.org_id
               JOIN users u ON u.id = o.id
               WHERE m.user_id = $1 ORDER BY lower(u.name)"#,
            user_id
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let org = OrgRow {
                    id: r.id,
                    name: r.name,
                    description: r.description,
                    visibility: r.visibility,
                };
                (org, r.is_owner)
            })
            .collect())
    }

    pub async fn update_org(
        &self,
        id: i64,
        description: &str,
        visibility: OrgVisibility,
    ) -> Result<()> {
        sqlx::query!(
            "UPDATE organizations SET description = $2, visibility = $3 WHERE id = $1",
            id,
            description,
            visibility.as_str()
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes the organization unless it owns a repository (checked in the same statement,
    /// so a repository created meanwhile is never lost with it). Members and teams go with it.
    pub async fn delete_org_owning_nothing(&self, id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM users WHERE id = $1 AND kind = 'organization'
             AND NOT EXISTS (SELECT 1 FROM repositories WHERE owner_id = $1)",
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Db {
    pub async fn org_members(&self, org_id: i64) -> Result<Vec<OrgMember>> {
        Ok(sqlx::query_as!(
            OrgMember,
            "SELECT u.name, m.is_owner FROM org_members m JOIN users u ON u.id = m.user_id
             WHERE m.org_id = $1 ORDER BY NOT m.is_owner, lower(u.name)",
            org_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// `user_id`'s role in the organization, if a member.
    pub async fn org_role(&self, org_id: i64, user_id: i64) -> Result<Option<OrgRole>> {
        let owner = sqlx::query_scalar!(
            "SELECT is_owner FROM org_members WHERE org_id = $1 AND user_id = $2",
            org_id,
            user_id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(owner.map(|o| if o { OrgRole::Owner } else { OrgRole::Member }))
    }

    /// Adds a member or changes whether they own the organization. Refuses (false) to make the
    /// last owner a plain member: an organization always has someone to manage it.
    pub async fn set_org_member(&self, org_id: i64, user_id: i64, is_owner: bool) -> Result<bool> {
        let done = sqlx::query!(
            "INSERT INTO org_members (org_id, user_id, is_owner) VALUES ($1, $2, $3)
             ON CONFLICT (org_id, user_id) DO UPDATE SET is_owner = EXCLUDED.is_owner
             WHERE EXCLUDED.is_owner OR EXISTS (
                 SELECT 1 FROM org_members o
                 WHERE o.org_id = $1 AND o.is_owner AND o.user_id <> $2)",
            org_id,
            user_id,
            is_owner
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a member (and so their teams' rows, by the foreign key) unless they are the last
    /// owner. None: not a member; Some(false): the last owner, kept.
    pub async fn remove_org_member(&self, org_id: i64, user_id: i64) -> Result<Option<bool>> {
        if self.org_role(org_id, user_id).await?.is_none() {
            return Ok(None);
        }
        let done = sqlx::query!(
            "DELETE FROM org_members WHERE org_id = $1 AND user_id = $2
             AND (NOT is_owner OR EXISTS (SELECT 1 FROM org_members o
                  WHERE o.org_id = $1 AND o.is_owner AND o.user_id <> $2))",
            org_id,
            user_id
        )
        .execute(&self.pool)
        .await?;
        Ok(Some(done.rows_affected() == 1))
    }

    /// Adds `repo_id` to the chosen lists of `user_id`'s teams in the organization that may
    /// create repositories (as Gitea does): what a member creates, their team reaches.
    pub async fn add_repo_to_creating_teams(
        &self,
        org_id: i64,
        user_id: i64,
        repo_id: i64,
    ) -> Result<()> {
        sqlx::query!(
            "INSERT INTO team_repos (team_id, org_id, repo_id)
             SELECT t.id, t.org_id, $3 FROM teams t JOIN team_members tm ON tm.team_id = t.id
             WHERE t.org_id = $1 AND tm.user_id = $2 AND t.can_create AND NOT t.all_repos
             ON CONFLICT DO NOTHING",
            org_id,
            user_id,
            repo_id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether `user_id` may create repositories under the organization: an owner, or a member
    /// of a team that may.
    pub async fn may_create_in_org(&self, org_id: i64, user_id: i64) -> Result<bool> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM org_members WHERE org_id = $1 AND user_id = $2
                              AND is_owner)
                   OR EXISTS (SELECT 1 FROM teams t JOIN team_members tm ON tm.team_id = t.id
                              WHERE t.org_id = $1 AND tm.user_id = $2 AND t.can_create)
                   AS "may!""#,
            org_id,
            user_id
        )
        .fetch_one(&self.pool)
        .await?)
    }
}

impl Db {
    pub async fn insert_team(&self, new: NewTeam<'_>) -> Result<TeamRow> {
        let id = sqlx::query_scalar!(
            "INSERT INTO teams (org_id, name, access, all_repos, can_create)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            new.org_id,
            new.name,
            new.access.as_str(),
            new.all_repos,
            new.can_create
        )
        .fetch_one(&self.pool)
        .await
        .map_err(on_constraint)?;
        Ok(TeamRow {
            id,
            org_id: new.org_id,
            name: new.name.to_owned(),
            access: new.access,
            all_repos: new.all_repos,
            can_create: new.can_create,
        })
    }

    pub async fn team_by_name(&self, org_id: i64, name: &str) -> Result<Option<TeamRow>> {
        Ok(sqlx::query_as!(
            TeamRow,
            r#"SELECT id, org_id, name, access AS "access: RepoAccess", all_repos, can_create
               FROM teams WHERE org_id = $1 AND lower(name) = lower($2)"#,
            org_id,
            name
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A team by its id (the API names teams by id) with its organization's name.
    pub async fn team_by_id(&self, id: i64) -> Result<Option<(TeamRow, String)>> {
        let row = sqlx::query!(
            r#"SELECT t.id, t.org_id, t.name, t.access AS "access: RepoAccess", t.all_repos,
                      t.can_create, o.name AS org_name
               FROM teams t JOIN users o ON o.id = t.org_id WHERE t.id = $1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| {
            (
                TeamRow {
                    id: r.id,
                    org_id: r.org_id,
                    name: r.name,
                    access: r.access,
                    all_repos: r.all_repos,
                    can_create: r.can_create,
                },
                r.org_name,
            )
        }))
    }

    pub async fn teams_of_org(&self, org_id: i64) -> Result<Vec<TeamRow>> {
        Ok(sqlx::query_as!(
            TeamRow,
            r#"SELECT id, org_id, name, access AS "access: RepoAccess", all_repos, can_create
               FROM teams WHERE org_id = $1 ORDER BY lower(name)"#,
            org_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// (team id, member name) of every team of the organization.
    pub async fn team_member_names(&self, org_id: i64) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query!(
            "SELECT tm.team_id, u.name FROM team_members tm JOIN users u ON u.id = tm.user_id
             WHERE tm.org_id = $1 ORDER BY lower(u.name)",
            org_id
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.team_id, r.name)).collect())
    }

    /// (team id, repository name) of every team of the organization with a chosen list.
    pub async fn team_repo_names(&self, org_id: i64) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query!(
            "SELECT tr.team_id, r.name FROM team_repos tr JOIN repositories r ON r.id = tr.repo_id
             WHERE tr.org_id = $1 ORDER BY lower(r.name)",
            org_id
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.team_id, r.name)).collect())
    }

    pub async fn update_team(
        &self,
        id: i64,
        access: RepoAccess,
        all_repos: bool,
        can_create: bool,
    ) -> Result<()> {
        sqlx::query!(
            "UPDATE teams SET access = $2, all_repos = $3, can_create = $4 WHERE id = $1",
            id,
            access.as_str(),
            all_repos,
            can_create
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_team(&self, id: i64) -> Result<bool> {
        let done = sqlx::query!("DELETE FROM teams WHERE id = $1", id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds `user_id` to the team, making them a member of its organization first if needed.
    pub async fn add_team_member(&self, team: &TeamRow, user_id: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "INSERT INTO org_members (org_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            team.org_id,
            user_id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO team_members (team_id, org_id, user_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            team.id,
            team.org_id,
            user_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_team_member(&self, team_id: i64, user_id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2",
            team_id,
            user_id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds a repository of the team's organization to its list (the foreign key refuses one
    /// another owner has).
    pub async fn add_team_repo(&self, team: &TeamRow, repo_id: i64) -> Result<()> {
        sqlx::query!(
            "INSERT INTO team_repos (team_id, org_id, repo_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            team.id,
            team.org_id,
            repo_id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn remove_team_repo(&self, team_id: i64, repo_id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM team_repos WHERE team_id = $1 AND repo_id = $2",
            team_id,
            repo_id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
