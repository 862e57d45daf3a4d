//! Webhooks of repositories. Deliveries are in `webhook_deliveries.rs`.

use time::OffsetDateTime;

use super::{Db, Result, Tx};

#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub id: i64,
    pub repo_id: i64,
    pub url: String,
    pub content_type: String,
    pub secret: String,
    pub events: Vec<String>,
    pub branch_filter: String,
    pub active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A hook's settings as written on create and on update.
pub struct WebhookFields<'a> {
    pub url: &'a str,
    pub content_type: &'a str,
    /// None: none on create, the current one kept on update.
    pub secret: Option<&'a str>,
    pub events: &'a [String],
    pub branch_filter: &'a str,
    pub active: bool,
}

impl Db {
    pub async fn insert_webhook(&self, repo_id: i64, f: WebhookFields<'_>) -> Result<WebhookRow> {
        Ok(sqlx::query_as!(
            WebhookRow,
            "INSERT INTO webhooks (repo_id, url, content_type, secret, events, branch_filter, active)
             VALUES ($1, $2, $3, COALESCE($4, ''), $5, $6, $7)
             RETURNING id, repo_id, url, content_type, secret, events, branch_filter, active,
                       created_at, updated_at",
            repo_id,
            f.url,
            f.content_type,
            f.secret,
            f.events,
            f.branch_filter,
            f.active
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn webhooks(&self, repo_id: i64) -> Result<Vec<WebhookRow>> {
        Ok(sqlx::query_as!(
            WebhookRow,
            "SELECT id, repo_id, url, content_type, secret, events, branch_filter, active,
                    created_at, updated_at
             FROM webhooks WHERE repo_id = $1 ORDER BY id",
            repo_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// One hook, only if it belongs to `repo_id` (ids from URLs are checked against the repo).
    pub async fn webhook(&self, repo_id: i64, id: i64) -> Result<Option<WebhookRow>> {
        Ok(sqlx::query_as!(
            WebhookRow,
            "SELECT id, repo_id, url, content_type, secret, events, branch_filter, active,
                    created_at, updated_at
             FROM webhooks WHERE repo_id = $1 AND id = $2",
            repo_id,
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn update_webhook(
        &self,
        repo_id: i64,
        id: i64,
        f: WebhookFields<'_>,
    ) -> Result<Option<WebhookRow>> {
        Ok(sqlx::query_as!(
            WebhookRow,
            "UPDATE webhooks SET url = $3, content_type = $4, secret = COALESCE($5, secret), events = $6,
                    branch_filter = $7, active = $8, updated_at = now()
             WHERE repo_id = $1 AND id = $2
             RETURNING id, repo_id, url, content_type, secret, events, branch_filter, active,
                       created_at, updated_at",
            repo_id,
            id,
            f.url,
            f.content_type,
            f.secret,
            f.events,
            f.branch_filter,
            f.active
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn delete_webhook(&self, repo_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query!(
            "DELETE FROM webhooks WHERE repo_id = $1 AND id = $2",
            repo_id,
            id
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

impl Tx {
    /// The repository's active hooks subscribed to `event`, read inside the caller's transaction.
    pub async fn active_webhooks(&mut self, repo_id: i64, event: &str) -> Result<Vec<WebhookRow>> {
        Ok(sqlx::query_as!(
            WebhookRow,
            "SELECT id, repo_id, url, content_type, secret, events, branch_filter, active,
                    created_at, updated_at
             FROM webhooks WHERE repo_id = $1 AND active AND $2 = ANY (events) ORDER BY id",
            repo_id,
            event
        )
        .fetch_all(&mut *self.inner)
        .await?)
    }
}
