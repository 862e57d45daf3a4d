//! Old names left by renames and transfers (`repo_redirects`, `owner_redirects`). The
//! migration's triggers delete a redirect when its name is taken again, so the writers here
//! only add them, in the same transaction as the change that frees the name.

use super::{Db, Result, on_constraint};

type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

impl Db {
    /// The repository an old `owner/name` leads to, if any repository was known by it and the
    /// name has not been taken again since.
    pub async fn repo_redirect(&self, owner: &str, name: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar!(
            "SELECT repo_id FROM repo_redirects
             WHERE lower(owner_name) = lower($1) AND lower(repo_name) = lower($2)",
            owner,
            name
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The current name of the owner once called `old`.
    pub async fn owner_redirect(&self, old: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar!(
            "SELECT u.name FROM owner_redirects o JOIN users u ON u.id = o.owner_id
             WHERE lower(o.old_name) = lower($1)",
            old
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Renames the repository and keeps its old path as a redirect, inside a transaction the
    /// caller commits once the folder is moved.
    pub async fn begin_rename_repo(&self, id: i64, new_name: &str) -> Result<Tx> {
        let mut tx = self.pool.begin().await?;
        keep_old_path(&mut tx, id).await?;
        sqlx::query!(
            "UPDATE repositories SET name = $2, updated_at = now() WHERE id = $1",
            id,
            new_name
        )
        .execute(&mut *tx)
        .await
        .map_err(on_constraint)?;
        Ok(tx)
    }

    /// Gives the repository to another owner, keeping its old path as a redirect; the old
    /// organization's teams lose it (their rows would name a repository of another owner).
    /// Everything else hangs on the id and follows. Committed by the caller after the move.
    pub async fn begin_transfer_repo(&self, id: i64, new_owner_id: i64) -> Result<Tx> {
        let mut tx = self.pool.begin().await?;
        keep_old_path(&mut tx, id).await?;
        sqlx::query!(
            "UPDATE repositories SET owner_id = $2, updated_at = now() WHERE id = $1",
            id,
            new_owner_id
        )
        .execute(&mut *tx)
        .await
        .map_err(on_constraint)?;
        sqlx::query!("DELETE FROM team_repos WHERE repo_id = $1", id)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Renames a user or organization, keeping the old name and every old repository path as
    /// redirects. Committed by the caller after the owner's folder moved.
    pub async fn begin_rename_owner(&self, owner_id: i64, new_name: &str) -> Result<Tx> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "INSERT INTO owner_redirects (old_name, owner_id)
             SELECT name, id FROM users WHERE id = $1
             ON CONFLICT (lower(old_name))
             DO UPDATE SET owner_id = EXCLUDED.owner_id, created_at = now()",
            owner_id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO repo_redirects (owner_name, repo_name, repo_id)
             SELECT u.name, r.name, r.id FROM repositories r JOIN users u ON u.id = r.owner_id
             WHERE u.id = $1
             ON CONFLICT (lower(owner_name), lower(repo_name))
             DO UPDATE SET repo_id = EXCLUDED.repo_id, created_at = now()",
            owner_id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE users SET name = $2 WHERE id = $1",
            owner_id,
            new_name
        )
        .execute(&mut *tx)
        .await
        .map_err(on_constraint)?;
        Ok(tx)
    }
}

/// Records the repository's current path as a redirect to it (replacing an older redirect of
/// that path: the newest owner of a freed path wins).
async fn keep_old_path(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query!(
        "INSERT INTO repo_redirects (owner_name, repo_name, repo_id)
         SELECT u.name, r.name, r.id FROM repositories r JOIN users u ON u.id = r.owner_id
         WHERE r.id = $1
         ON CONFLICT (lower(owner_name), lower(repo_name))
         DO UPDATE SET repo_id = EXCLUDED.repo_id, created_at = now()",
        id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
