//! Deploy keys: one row per repository a key is attached to (the same fingerprint may have
//! several rows, one per repository, as Gitea keeps them).

use super::{Db, Result, on_constraint};

pub struct NewDeployKey<'a> {
    pub repo_id: i64,
    pub title: &'a str,
    pub algorithm: &'a str,
    pub public_key: &'a str,
    pub fingerprint: &'a str,
    pub read_only: bool,
}

#[derive(Debug, Clone)]
pub struct DeployKeyRow {
    pub id: i64,
    pub repo_id: i64,
    pub title: String,
    pub algorithm: String,
    pub public_key: String,
    pub fingerprint: String,
    pub read_only: bool,
    pub created_at: time::OffsetDateTime,
    pub last_used_at: Option<time::OffsetDateTime>,
}

impl Db {
    /// Attaches a key to a repository unless the repository already has `cap` deploy keys
    /// (then None): the count and the insert are one statement, so the cap holds.
    pub async fn insert_deploy_key(
        &self,
        new: NewDeployKey<'_>,
        cap: i64,
    ) -> Result<Option<DeployKeyRow>> {
        sqlx::query_as!(
            DeployKeyRow,
            "INSERT INTO deploy_keys (repo_id, title, algorithm, public_key, fingerprint, read_only)
             SELECT $1, $2, $3, $4, $5, $6
             WHERE (SELECT count(*) FROM deploy_keys WHERE repo_id = $1) < $7
             RETURNING id, repo_id, title, algorithm, public_key, fingerprint, read_only,
                       created_at, last_used_at",
            new.repo_id,
            new.title,
            new.algorithm,
            new.public_key,
            new.fingerprint,
            new.read_only,
            cap
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(on_constraint)
    }

    pub async fn deploy_keys_for_repo(&self, repo_id: i64) -> Result<Vec<DeployKeyRow>> {
        Ok(sqlx::query_as!(
            DeployKeyRow,
            "SELECT id, repo_id, title, algorithm, public_key, fingerprint, read_only,
                    created_at, last_used_at
             FROM deploy_keys WHERE repo_id = $1 ORDER BY id",
            repo_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// One of the repository's deploy keys by id (another repository's id is not found).
    pub async fn deploy_key(&self, repo_id: i64, id: i64) -> Result<Option<DeployKeyRow>> {
        Ok(sqlx::query_as!(
            DeployKeyRow,
            "SELECT id, repo_id, title, algorithm, public_key, fingerprint, read_only,
                    created_at, last_used_at
             FROM deploy_keys WHERE repo_id = $1 AND id = $2",
            repo_id,
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Detaches one key from the repository; false if it has none with that id.
    pub async fn delete_deploy_key(&self, repo_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM deploy_keys WHERE repo_id = $1 AND id = $2",
            repo_id,
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether the key with `fingerprint` is attached to the repository, and read-only if so:
    /// the one input the access rule takes for a deploy key.
    pub async fn deploy_key_read_only(
        &self,
        fingerprint: &str,
        repo_id: i64,
    ) -> Result<Option<bool>> {
        Ok(sqlx::query_scalar!(
            "SELECT read_only FROM deploy_keys WHERE fingerprint = $1 AND repo_id = $2",
            fingerprint,
            repo_id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The lowest id among the rows of a deploy key (the id `labforge keys` names for sshd),
    /// with its canonical text; None if no repository has it.
    pub async fn deploy_key_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<(i64, String)>> {
        Ok(sqlx::query!(
            "SELECT id, public_key FROM deploy_keys WHERE fingerprint = $1 ORDER BY id LIMIT 1",
            fingerprint
        )
        .fetch_optional(&self.pool)
        .await?
        .map(|r| (r.id, r.public_key)))
    }

    /// The fingerprint of the deploy key row `id` (from `serv deploy-key-ID`).
    pub async fn deploy_key_fingerprint(&self, id: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar!("SELECT fingerprint FROM deploy_keys WHERE id = $1", id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Notes a login with the key, on every repository it is attached to (at most once a
    /// minute, like a user's key).
    pub async fn touch_deploy_key(&self, fingerprint: &str) -> Result<()> {
        sqlx::query!(
            "UPDATE deploy_keys SET last_used_at = now()
             WHERE fingerprint = $1
               AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
            fingerprint
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
