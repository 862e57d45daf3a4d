//! Push mirrors and their sync queue (the rows themselves; see the migration).

use time::OffsetDateTime;

use super::{Db, Result, Tx};

#[derive(Debug, Clone)]
pub struct PushMirrorRow {
    pub id: i64,
    pub repo_id: i64,
    pub remote_url: String,
    pub auth: String,
    pub username: String,
    pub ssh_public_key: String,
    pub host_key: Option<String>,
    pub scope: String,
    pub sync_on_push: bool,
    pub sync_wanted: bool,
    pub syncing: bool,
    pub failures: i32,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_success_at: Option<OffsetDateTime>,
    pub last_error: String,
    pub created_at: OffsetDateTime,
}

pub struct NewPushMirror<'a> {
    pub repo_id: i64,
    pub remote_url: &'a str,
    pub auth: &'a str,
    pub username: &'a str,
    pub token: &'a str,
    pub ssh_private_key: &'a str,
    pub ssh_public_key: &'a str,
    pub scope: &'a str,
    pub sync_on_push: bool,
}

/// A mirror the worker took: everything a sync needs, secrets included.
pub struct ClaimedMirrorRow {
    pub id: i64,
    pub repo_id: i64,
    pub remote_url: String,
    pub auth: String,
    pub username: String,
    pub token: String,
    pub ssh_private_key: String,
    pub host_key: Option<String>,
    pub scope: String,
}

impl Db {
    pub async fn insert_push_mirror(&self, new: NewPushMirror<'_>) -> Result<PushMirrorRow> {
        Ok(sqlx::query_as!(
            PushMirrorRow,
            "INSERT INTO push_mirrors (repo_id, remote_url, auth, username, token, ssh_private_key,
                                       ssh_public_key, scope, sync_on_push, sync_wanted)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, true)
             RETURNING id, repo_id, remote_url, auth, username, ssh_public_key, host_key, scope,
                       sync_on_push, sync_wanted, syncing, failures, last_attempt_at,
                       last_success_at, last_error, created_at",
            new.repo_id,
            new.remote_url,
            new.auth,
            new.username,
            new.token,
            new.ssh_private_key,
            new.ssh_public_key,
            new.scope,
            new.sync_on_push
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn push_mirrors(&self, repo_id: i64) -> Result<Vec<PushMirrorRow>> {
        Ok(sqlx::query_as!(
            PushMirrorRow,
            "SELECT id, repo_id, remote_url, auth, username, ssh_public_key, host_key, scope,
                    sync_on_push, sync_wanted, syncing, failures, last_attempt_at,
                    last_success_at, last_error, created_at
             FROM push_mirrors WHERE repo_id = $1 ORDER BY id",
            repo_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delete_push_mirror(&self, repo_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM push_mirrors WHERE repo_id = $1 AND id = $2",
            repo_id,
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// "Sync now": due at once, whatever the backoff said.
    pub async fn want_push_mirror_sync(&self, repo_id: i64, id: Option<i64>) -> Result<u64> {
        let done = sqlx::query!(
            "UPDATE push_mirrors SET sync_wanted = true, next_attempt_at = now()
             WHERE repo_id = $1 AND ($2::BIGINT IS NULL OR id = $2)",
            repo_id,
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Takes the mirror due first, marking it syncing; None when none is due.
    pub async fn claim_push_mirror(&self) -> Result<Option<ClaimedMirrorRow>> {
        Ok(sqlx::query_as!(
            ClaimedMirrorRow,
            "UPDATE push_mirrors SET syncing = true, sync_wanted = false, last_attempt_at = now()
             WHERE id = (SELECT id FROM push_mirrors
                         WHERE sync_wanted AND NOT syncing AND next_attempt_at <= now()
                         ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING id, repo_id, remote_url, auth, username, token, ssh_private_key,
                       host_key, scope",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A sync worked; the far side's host key is pinned if it was not yet.
    pub async fn push_mirror_synced(&self, id: i64, host_key: Option<&str>) -> Result<()> {
        sqlx::query!(
            "UPDATE push_mirrors SET syncing = false, failures = 0, last_success_at = now(),
                    last_error = '', host_key = COALESCE(host_key, $2)
             WHERE id = $1",
            id,
            host_key
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A sync failed: retried after 15 s, 30 s, 1 min ... (at most an hour) when `retry`, else
    /// the mirror stops until someone asks again (a changed host key).
    pub async fn push_mirror_failed(&self, id: i64, error: &str, retry: bool) -> Result<()> {
        sqlx::query!(
            "UPDATE push_mirrors SET syncing = false, failures = failures + 1, last_error = $2,
                    sync_wanted = (sync_wanted OR $3),
                    next_attempt_at = now()
                        + make_interval(secs => LEAST(3600, 15 * 2 ^ LEAST(failures, 8)))
             WHERE id = $1",
            id,
            error,
            retry
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// At start: syncs cut off by a stop are wanted again.
    pub async fn resume_interrupted_push_mirrors(&self) -> Result<u64> {
        let done = sqlx::query!(
            "UPDATE push_mirrors SET syncing = false, sync_wanted = true WHERE syncing"
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

impl Tx {
    /// In a push's transaction: the repository's mirrors that follow pushes want a sync.
    /// A mirror backing off after failures keeps its time; a healthy one is due at once.
    pub async fn queue_push_mirrors(&mut self, repo_id: i64) -> Result<u64> {
        let done = sqlx::query!(
            "UPDATE push_mirrors SET sync_wanted = true,
                    next_attempt_at = CASE WHEN failures = 0 THEN now() ELSE next_attempt_at END
             WHERE repo_id = $1 AND sync_on_push",
            repo_id
        )
        .execute(&mut *self.inner)
        .await?;
        Ok(done.rows_affected())
    }
}
