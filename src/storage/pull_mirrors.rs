//! Pull mirrors and their schedule (see the migration).

use time::OffsetDateTime;

use super::{Db, Result};

#[derive(Debug, Clone)]
pub struct PullMirrorRow {
    pub repo_id: i64,
    pub remote_url: String,
    pub username: String,
    pub interval_secs: i32,
    pub next_sync_at: OffsetDateTime,
    pub syncing: bool,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_success_at: Option<OffsetDateTime>,
    pub last_error: String,
}

/// A sync the worker (or "sync now") claimed: what it needs, the token included.
pub struct ClaimedPullRow {
    pub repo_id: i64,
    pub remote_url: String,
    pub username: String,
    pub token: String,
}

impl Db {
    pub async fn insert_pull_mirror(
        &self,
        repo_id: i64,
        remote_url: &str,
        username: &str,
        token: &str,
        interval_secs: i32,
    ) -> Result<()> {
        sqlx::query!(
            "INSERT INTO pull_mirrors (repo_id, remote_url, username, token, interval_secs,
                                       next_sync_at, last_attempt_at, last_success_at)
             VALUES ($1, $2, $3, $4, $5,
                     now() + make_interval(secs => $5::INT * (1 + random() / 10)), now(), now())",
            repo_id,
            remote_url,
            username,
            token,
            interval_secs
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn pull_mirror(&self, repo_id: i64) -> Result<Option<PullMirrorRow>> {
        Ok(sqlx::query_as!(
            PullMirrorRow,
            "SELECT repo_id, remote_url, username, interval_secs, next_sync_at, syncing,
                    last_attempt_at, last_success_at, last_error
             FROM pull_mirrors WHERE repo_id = $1",
            repo_id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Takes the first due sync, marking it syncing; None when none is due.
    pub async fn claim_pull_mirror(&self) -> Result<Option<ClaimedPullRow>> {
        Ok(sqlx::query_as!(
            ClaimedPullRow,
            "UPDATE pull_mirrors SET syncing = true, last_attempt_at = now()
             WHERE repo_id = (SELECT repo_id FROM pull_mirrors
                              WHERE NOT syncing AND next_sync_at <= now()
                              ORDER BY next_sync_at LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING repo_id, remote_url, username, token",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// "Sync now": due at once. False when the repository is no pull mirror.
    pub async fn want_pull_mirror_sync(&self, repo_id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "UPDATE pull_mirrors SET next_sync_at = now() WHERE repo_id = $1",
            repo_id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends a sync: the next one is an interval (plus up to a tenth, at random) away.
    pub async fn pull_mirror_done(&self, repo_id: i64, error: Option<&str>) -> Result<()> {
        sqlx::query!(
            "UPDATE pull_mirrors SET syncing = false,
                    next_sync_at = now() + make_interval(secs => interval_secs * (1 + random() / 10)),
                    last_success_at = CASE WHEN $2::TEXT IS NULL THEN now() ELSE last_success_at END,
                    last_error = COALESCE($2, '')
             WHERE repo_id = $1",
            repo_id,
            error
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// At start: syncs cut off by a stop are due again.
    pub async fn resume_interrupted_pull_mirrors(&self) -> Result<u64> {
        let done = sqlx::query!(
            "UPDATE pull_mirrors SET syncing = false, next_sync_at = now() WHERE syncing"
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
