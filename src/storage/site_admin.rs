//! What the site administration pages read and write: users a page at a time, every
//! repository with its last push and mirror state, and the audit log of admins' actions.

use super::{Db, Result};

/// One user as the admin list shows them.
#[derive(Debug, Clone)]
pub struct AdminUserRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: time::OffsetDateTime,
}

/// One repository as the admin list shows it.
#[derive(Debug, Clone)]
pub struct AdminRepoRow {
    pub owner: String,
    pub name: String,
    pub is_private: bool,
    pub pushed_at: Option<time::OffsetDateTime>,
    /// The pull mirror's state, if the repository is one: its last error ('' when it worked),
    /// and when it last worked.
    pub pull_error: Option<String>,
    pub pull_success_at: Option<time::OffsetDateTime>,
    pub push_mirrors: i64,
    pub push_mirrors_failing: i64,
}

/// One recorded action.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub at: time::OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

impl Db {
    /// Users `offset..offset+limit` by name, and how many there are.
    pub async fn users_page(&self, offset: i64, limit: i64) -> Result<(Vec<AdminUserRow>, i64)> {
        let rows = sqlx::query_as!(
            AdminUserRow,
            "SELECT id, name, email, is_admin, disabled, created_at FROM users
             ORDER BY lower(name) OFFSET $1 LIMIT $2",
            offset,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        let total = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM users"#)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, total))
    }

    /// Repositories `offset..offset+limit` by owner and name, and how many there are.
    pub async fn repos_page(&self, offset: i64, limit: i64) -> Result<(Vec<AdminRepoRow>, i64)> {
        let rows = sqlx::query_as!(
            AdminRepoRow,
            r#"SELECT u.name AS owner, r.name, r.is_private, r.pushed_at,
                      pm.last_error AS "pull_error?", pm.last_success_at AS "pull_success_at?",
                      (SELECT count(*) FROM push_mirrors m WHERE m.repo_id = r.id) AS "push_mirrors!",
                      (SELECT count(*) FROM push_mirrors m
                        WHERE m.repo_id = r.id AND m.last_error <> '') AS "push_mirrors_failing!"
               FROM repositories r
               JOIN users u ON u.id = r.owner_id
               LEFT JOIN pull_mirrors pm ON pm.repo_id = r.id
               ORDER BY lower(u.name), lower(r.name) OFFSET $1 LIMIT $2"#,
            offset,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        let total = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM repositories"#)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, total))
    }

    /// Makes the user a site admin or not. False if there is no such user.
    pub async fn set_user_admin(&self, user_id: i64, admin: bool) -> Result<bool> {
        let done = sqlx::query!(
            "UPDATE users SET is_admin = $2 WHERE id = $1",
            user_id,
            admin
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()> {
        sqlx::query!(
            "INSERT INTO admin_audit (actor, action, target, detail) VALUES ($1, $2, $3, $4)",
            actor,
            action,
            target,
            detail
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Entries newest first, `offset..offset+limit`, and how many there are.
    pub async fn audit_page(&self, offset: i64, limit: i64) -> Result<(Vec<AuditRow>, i64)> {
        let rows = sqlx::query_as!(
            AuditRow,
            "SELECT id, at, actor, action, target, detail FROM admin_audit
             ORDER BY id DESC OFFSET $1 LIMIT $2",
            offset,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        let total = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM admin_audit"#)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, total))
    }
}
