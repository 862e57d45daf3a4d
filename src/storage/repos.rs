use super::{Db, Result, on_constraint};
use crate::model::{OrgFacts, OrgVisibility, RepoAccess};

/// What the access rule reads besides the repository, as one listing query found it.
#[derive(Debug, Clone, Copy)]
pub struct AccessRow {
    pub collaborator: Option<RepoAccess>,
    pub org: Option<OrgFacts>,
}

#[derive(Debug, Clone)]
pub struct RepoRow {
    pub id: i64,
    pub owner_id: i64,
    pub owner: String,
    pub name: String,
    pub description: String,
    pub is_private: bool,
    pub default_branch: String,
    pub archived: bool,
}

pub struct NewRepo<'a> {
    pub owner_id: i64,
    pub name: &'a str,
    pub description: &'a str,
    pub is_private: bool,
    pub default_branch: &'a str,
}

/// A repository row written but not yet committed: the caller creates the repository on disk
/// in between, and drops this (rolling back) if that fails, so row and folder appear together.
pub struct PendingRepo {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    pub row: RepoRow,
}

impl PendingRepo {
    pub async fn commit(self) -> Result<RepoRow> {
        self.tx.commit().await?;
        Ok(self.row)
    }
}

impl Db {
    pub async fn begin_insert_repo(&self, new: NewRepo<'_>) -> Result<PendingRepo> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query_as!(
            RepoRow,
            r#"WITH r AS (
                 INSERT INTO repositories (owner_id, name, description, is_private, default_branch)
                 VALUES ($1, $2, $3, $4, $5)
                 RETURNING id, owner_id, name, description, is_private, default_branch, archived)
               SELECT r.id, r.owner_id, u.name AS owner, r.name, r.description, r.is_private,
                      r.default_branch, r.archived
               FROM r JOIN users u ON u.id = r.owner_id"#,
            new.owner_id,
            new.name,
            new.description,
            new.is_private,
            new.default_branch
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(on_constraint)?;
        Ok(PendingRepo { tx, row })
    }

    pub async fn repo_by_path(&self, owner: &str, name: &str) -> Result<Option<RepoRow>> {
        Ok(sqlx::query_as!(
            RepoRow,
            "SELECT r.id, r.owner_id, u.name AS owner, r.name, r.description, r.is_private,
                    r.default_branch, r.archived
             FROM repositories r JOIN users u ON u.id = r.owner_id
             WHERE lower(u.name) = lower($1) AND lower(r.name) = lower($2)",
            owner,
            name
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// `repo_by_path` with the open issue count the repository tabs show, in the same query
    /// (every access check reads the repository; this keeps it one round trip).
    pub async fn repo_by_path_with_open_issues(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<(RepoRow, i64)>> {
        let row = sqlx::query!(
            r#"SELECT r.id, r.owner_id, u.name AS owner, r.name, r.description, r.is_private,
                      r.default_branch, r.archived, COALESCE(c.open_count, 0)::int8 AS "open_issues!"
               FROM repositories r JOIN users u ON u.id = r.owner_id
               LEFT JOIN issue_counters c ON c.repo_id = r.id
               WHERE lower(u.name) = lower($1) AND lower(r.name) = lower($2)"#,
            owner,
            name
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| {
            let repo = RepoRow {
                id: r.id,
                owner_id: r.owner_id,
                owner: r.owner,
                name: r.name,
                description: r.description,
                is_private: r.is_private,
                default_branch: r.default_branch,
                archived: r.archived,
            };
            (repo, r.open_issues)
        }))
    }

    pub async fn repo_by_id(&self, id: i64) -> Result<Option<RepoRow>> {
        Ok(sqlx::query_as!(
            RepoRow,
            "SELECT r.id, r.owner_id, u.name AS owner, r.name, r.description, r.is_private,
                    r.default_branch, r.archived
             FROM repositories r JOIN users u ON u.id = r.owner_id WHERE r.id = $1",
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn list_repos(&self) -> Result<Vec<RepoRow>> {
        Ok(sqlx::query_as!(
            RepoRow,
            "SELECT r.id, r.owner_id, u.name AS owner, r.name, r.description, r.is_private,
                    r.default_branch, r.archived
             FROM repositories r JOIN users u ON u.id = r.owner_id
             ORDER BY lower(u.name), lower(r.name)"
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Repositories `user_id` may read, with the facts the access rule decides from: their own,
    /// those shared with them (as a collaborator, a member or through a team), public ones, or
    /// every one for a site admin; the caller runs the rule over them. Most recently pushed first.
    pub async fn repos_visible_to(
        &self,
        user_id: i64,
        is_admin: bool,
    ) -> Result<Vec<(RepoRow, AccessRow)>> {
        let rows = sqlx::query!(
            r#"SELECT r.id, r.owner_id, u.name AS owner, r.name, r.description, r.is_private,
                      r.default_branch, r.archived, c.access AS "access?: RepoAccess",
                      o.visibility AS "visibility?: OrgVisibility", m.is_owner AS "is_owner?",
                      (SELECT max(CASE t.access WHEN 'admin' THEN 3 WHEN 'write' THEN 2 ELSE 1 END)
                       FROM teams t JOIN team_members tm ON tm.team_id = t.id
                       WHERE t.org_id = r.owner_id AND tm.user_id = $1
                         AND (t.all_repos OR EXISTS (SELECT 1 FROM team_repos tr
                                                     WHERE tr.team_id = t.id AND tr.repo_id = r.id))
                      ) AS team_rank
               FROM repositories r
               JOIN users u ON u.id = r.owner_id
               LEFT JOIN collaborators c ON c.repo_id = r.id AND c.user_id = $1
               LEFT JOIN organizations o ON o.id = r.owner_id
               LEFT JOIN org_members m ON m.org_id = r.owner_id AND m.user_id = $1
               WHERE $2 OR r.owner_id = $1 OR NOT r.is_private OR c.user_id IS NOT NULL
                  OR m.user_id IS NOT NULL
               ORDER BY r.pushed_at DESC NULLS LAST, lower(u.name), lower(r.name)"#,
            user_id,
            is_admin
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let row = RepoRow {
                    id: r.id,
                    owner_id: r.owner_id,
                    owner: r.owner,
                    name: r.name,
                    description: r.description,
                    is_private: r.is_private,
                    default_branch: r.default_branch,
                    archived: r.archived,
                };
                let access = AccessRow {
                    collaborator: r.access,
                    org: super::orgs::facts_of(r.visibility, r.is_owner, r.team_rank),
                };
                (row, access)
            })
            .collect())
    }

    /// Public repositories, most recently pushed first.
    pub async fn public_repos(&self) -> Result<Vec<RepoRow>> {
        Ok(sqlx::query_as!(
            RepoRow,
            "SELECT r.id, r.owner_id, u.name AS owner, r.name, r.description, r.is_private,
                    r.default_branch, r.archived
             FROM repositories r JOIN users u ON u.id = r.owner_id
             LEFT JOIN organizations o ON o.id = r.owner_id
             WHERE NOT r.is_private AND (o.id IS NULL OR o.visibility = 'public')
             ORDER BY r.pushed_at DESC NULLS LAST, lower(u.name), lower(r.name)"
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn mark_pushed(&self, repo_id: i64) -> Result<()> {
        sqlx::query!(
            "UPDATE repositories SET pushed_at = now(), updated_at = now() WHERE id = $1",
            repo_id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn collaborator_access(
        &self,
        repo_id: i64,
        user_id: i64,
    ) -> Result<Option<RepoAccess>> {
        Ok(sqlx::query_scalar!(
            r#"SELECT access AS "access: RepoAccess" FROM collaborators
               WHERE repo_id = $1 AND user_id = $2"#,
            repo_id,
            user_id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Adds a collaborator or changes their access.
    pub async fn set_collaborator(
        &self,
        repo_id: i64,
        user_id: i64,
        access: RepoAccess,
    ) -> Result<()> {
        sqlx::query!(
            "INSERT INTO collaborators (repo_id, user_id, access) VALUES ($1, $2, $3)
             ON CONFLICT (repo_id, user_id) DO UPDATE SET access = EXCLUDED.access",
            repo_id,
            user_id,
            access.as_str()
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

pub struct CollaboratorRow {
    pub name: String,
    pub access: RepoAccess,
}

impl Db {
    pub async fn update_repo(
        &self,
        id: i64,
        description: &str,
        is_private: bool,
        default_branch: &str,
    ) -> Result<()> {
        sqlx::query!(
            "UPDATE repositories SET description = $2, is_private = $3, default_branch = $4,
                    updated_at = now() WHERE id = $1",
            id,
            description,
            is_private,
            default_branch
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn collaborators(&self, repo_id: i64) -> Result<Vec<CollaboratorRow>> {
        Ok(sqlx::query_as!(
            CollaboratorRow,
            r#"SELECT u.name, c.access AS "access: RepoAccess"
               FROM collaborators c JOIN users u ON u.id = c.user_id
               WHERE c.repo_id = $1 ORDER BY lower(u.name)"#,
            repo_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn remove_collaborator(&self, repo_id: i64, user_id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM collaborators WHERE repo_id = $1 AND user_id = $2",
            repo_id,
            user_id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the row inside a transaction the caller commits once the folder is moved away.
    pub async fn begin_delete_repo(
        &self,
        id: i64,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!("DELETE FROM repositories WHERE id = $1", id)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}
