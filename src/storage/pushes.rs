use time::OffsetDateTime;

use super::{Db, Result, Tx, on_constraint};
use crate::model::{PushEvent, RefUpdate, RepoId, UserId};

/// A push pre-receive allowed and post-receive has not confirmed yet.
#[derive(Debug, Clone)]
pub struct PendingPushRow {
    pub id: i64,
    pub repo_id: RepoId,
    pub refs: Vec<RefUpdate>,
}

pub struct NewPush<'a> {
    pub repo_id: RepoId,
    pub pusher_id: Option<UserId>,
    pub pusher_name: &'a str,
    pub nonce: &'a str,
    pub push_options: &'a [String],
    pub refs: &'a [RefUpdate],
}

impl Db {
    /// Records what pre-receive was asked to allow. A second pre-receive with the same nonce (git
    /// runs the hook once per receive-pack) is a conflict.
    pub async fn insert_pending_push(&self, new: NewPush<'_>) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let id = sqlx::query_scalar!(
            "INSERT INTO push_events (repo_id, pusher_id, pusher_name, nonce, push_options)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            new.repo_id,
            new.pusher_id,
            new.pusher_name,
            new.nonce,
            new.push_options
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(on_constraint)?;
        insert_refs(&mut tx, id, new.refs).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Pushes left pending, oldest first: settled at start against the refs on disk.
    pub async fn pending_pushes(&self) -> Result<Vec<PendingPushRow>> {
        let events =
            sqlx::query!("SELECT id, repo_id FROM push_events WHERE state = 'pending' ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            out.push(PendingPushRow {
                id: e.id,
                repo_id: e.repo_id,
                refs: self.push_refs(e.id).await?,
            });
        }
        Ok(out)
    }

    /// Start-up recovery could not settle this pending push: it is `failed`, with the reason,
    /// and not tried again.
    pub async fn fail_pending_push(&self, id: i64, reason: &str) -> Result<()> {
        sqlx::query!(
            "UPDATE push_events SET state = 'failed', recovery_error = $2
             WHERE id = $1 AND state = 'pending'",
            id,
            reason
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaying this received push's issue references failed: recorded, and not tried again.
    pub async fn fail_issue_refs(&self, id: i64, reason: &str) -> Result<()> {
        sqlx::query!(
            "UPDATE push_events SET recovery_error = $2 WHERE id = $1",
            id,
            reason
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Why recovery gave up on a push, if it did (state, reason).
    pub async fn push_recovery(&self, id: i64) -> Result<Option<(String, Option<String>)>> {
        Ok(sqlx::query!(
            "SELECT state, recovery_error FROM push_events WHERE id = $1",
            id
        )
        .fetch_optional(&self.pool)
        .await?
        .map(|r| (r.state, r.recovery_error)))
    }

    pub async fn abandon_push(&self, id: i64) -> Result<()> {
        sqlx::query!(
            "UPDATE push_events SET state = 'abandoned' WHERE id = $1 AND state = 'pending'",
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn push_refs(&self, id: i64) -> Result<Vec<RefUpdate>> {
        Ok(sqlx::query_as!(
            RefUpdate,
            "SELECT ref_name AS name, old_id AS old, new_id AS new FROM push_event_refs
             WHERE event_id = $1 ORDER BY ref_name",
            id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn push_event(&self, id: i64) -> Result<Option<PushEvent>> {
        let Some(e) = sqlx::query!(
            r#"SELECT id, repo_id, pusher_id, pusher_name, push_options,
                      received_at AS "received_at!" FROM push_events
               WHERE id = $1 AND state = 'received'"#,
            id
        )
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(PushEvent {
            id: e.id,
            repo_id: e.repo_id,
            pusher_id: e.pusher_id,
            pusher: e.pusher_name,
            refs: self.push_refs(e.id).await?,
            push_options: e.push_options,
            received_at: e.received_at,
        }))
    }
}

impl Db {
    /// A pending push as post-receive will record it with `refs`, read before its transaction
    /// (so what is prepared from it needs no second connection inside the transaction).
    pub async fn pending_push_as_event(
        &self,
        id: i64,
        refs: &[RefUpdate],
    ) -> Result<Option<PushEvent>> {
        let Some(e) = sqlx::query!(
            "SELECT id, repo_id, pusher_id, pusher_name, push_options FROM push_events
             WHERE id = $1 AND state = 'pending'",
            id
        )
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        Ok(Some(PushEvent {
            id: e.id,
            repo_id: e.repo_id,
            pusher_id: e.pusher_id,
            pusher: e.pusher_name,
            refs: refs.to_vec(),
            push_options: e.push_options,
            received_at: OffsetDateTime::now_utc(),
        }))
    }

    /// Received pushes whose commits have not been applied to issues yet, oldest first.
    pub async fn pushes_without_issue_refs(&self) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar!(
            "SELECT id FROM push_events
             WHERE state = 'received' AND issues_applied_at IS NULL AND recovery_error IS NULL
             ORDER BY id"
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn mark_issue_refs_applied(&self, id: i64) -> Result<()> {
        sqlx::query!(
            "UPDATE push_events SET issues_applied_at = now() WHERE id = $1",
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl Tx {
    /// Marks a pending push received with the updates git actually made (a subset of those
    /// pre-receive allowed when some failed). Returns None when the push is unknown or settled.
    pub async fn receive_push(&mut self, id: i64, refs: &[RefUpdate]) -> Result<Option<PushEvent>> {
        let now = OffsetDateTime::now_utc();
        let Some(e) = sqlx::query!(
            "UPDATE push_events SET state = 'received', received_at = $2
             WHERE id = $1 AND state = 'pending'
             RETURNING id, repo_id, pusher_id, pusher_name, push_options",
            id,
            now
        )
        .fetch_optional(&mut *self.inner)
        .await?
        else {
            return Ok(None);
        };
        sqlx::query!("DELETE FROM push_event_refs WHERE event_id = $1", id)
            .execute(&mut *self.inner)
            .await?;
        insert_refs(&mut self.inner, id, refs).await?;
        Ok(Some(PushEvent {
            id: e.id,
            repo_id: e.repo_id,
            pusher_id: e.pusher_id,
            pusher: e.pusher_name,
            refs: refs.to_vec(),
            push_options: e.push_options,
            received_at: now,
        }))
    }
}

async fn insert_refs(
    conn: &mut sqlx::PgConnection,
    event_id: i64,
    refs: &[RefUpdate],
) -> Result<()> {
    let names: Vec<&str> = refs.iter().map(|r| r.name.as_str()).collect();
    let olds: Vec<&str> = refs.iter().map(|r| r.old.as_str()).collect();
    let news: Vec<&str> = refs.iter().map(|r| r.new.as_str()).collect();
    sqlx::query!(
        "INSERT INTO push_event_refs (event_id, ref_name, old_id, new_id)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[])",
        event_id,
        &names as &[&str],
        &olds as &[&str],
        &news as &[&str]
    )
    .execute(conn)
    .await?;
    Ok(())
}
