//! The webhook outbox: deliveries queued inside the event's transaction, claimed by the worker
//! with `FOR UPDATE SKIP LOCKED`, and the last attempt's record.

use time::OffsetDateTime;

use super::{Db, Result, Tx};

pub struct NewDelivery<'a> {
    pub hook_id: i64,
    pub event: &'a str,
    pub action: &'a str,
    pub guid: &'a str,
    pub payload: &'a str,
    pub redelivery_of: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: i64,
    pub hook_id: i64,
    pub event: String,
    pub action: String,
    pub guid: String,
    pub payload: String,
    pub redelivery_of: Option<i64>,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: OffsetDateTime,
    pub request_headers: String,
    pub response_status: Option<i32>,
    pub response_headers: String,
    pub response_body: String,
    pub duration_ms: Option<i32>,
    pub error: String,
    pub created_at: OffsetDateTime,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
}

/// A delivery the worker took, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDeliveryRow {
    pub id: i64,
    pub hook_id: i64,
    pub event: String,
    pub guid: String,
    pub payload: String,
    /// Including the one about to be made.
    pub attempts: i32,
    pub url: String,
    pub content_type: String,
    pub secret: String,
}

/// The outcome of one attempt, written back by the worker.
pub struct AttemptRecord<'a> {
    pub state: &'a str,
    pub next_attempt_at: OffsetDateTime,
    pub request_headers: &'a str,
    pub response_status: Option<i32>,
    pub response_headers: &'a str,
    pub response_body: &'a str,
    pub duration_ms: i32,
    pub error: &'a str,
}

impl Tx {
    pub async fn insert_delivery(&mut self, new: NewDelivery<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar!(
            "INSERT INTO webhook_deliveries (hook_id, event, action, guid, payload, redelivery_of)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            new.hook_id,
            new.event,
            new.action,
            new.guid,
            new.payload,
            new.redelivery_of
        )
        .fetch_one(&mut *self.inner)
        .await?)
    }
}

impl Db {
    /// Newest first, at most `limit`.
    pub async fn deliveries(&self, hook_id: i64, limit: i64) -> Result<Vec<DeliveryRow>> {
        Ok(sqlx::query_as!(
            DeliveryRow,
            "SELECT id, hook_id, event, action, guid, payload, redelivery_of, state, attempts,
                    next_attempt_at, request_headers, response_status, response_headers,
                    response_body, duration_ms, error, created_at, last_attempt_at, delivered_at
             FROM webhook_deliveries WHERE hook_id = $1 ORDER BY id DESC LIMIT $2",
            hook_id,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn delivery(&self, hook_id: i64, id: i64) -> Result<Option<DeliveryRow>> {
        Ok(sqlx::query_as!(
            DeliveryRow,
            "SELECT id, hook_id, event, action, guid, payload, redelivery_of, state, attempts,
                    next_attempt_at, request_headers, response_status, response_headers,
                    response_body, duration_ms, error, created_at, last_attempt_at, delivered_at
             FROM webhook_deliveries WHERE hook_id = $1 AND id = $2",
            hook_id,
            id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Takes up to `limit` due deliveries (queued, or retrying whose time has come), oldest
    /// first, marks them `delivering` and counts the attempt. Rows another claimer holds are
    /// skipped, not waited for.
    pub async fn claim_deliveries(&self, limit: i64) -> Result<Vec<ClaimedDeliveryRow>> {
        Ok(sqlx::query_as!(
            ClaimedDeliveryRow,
            r#"WITH due AS (
                 SELECT id FROM webhook_deliveries
                 WHERE state IN ('queued', 'retrying') AND next_attempt_at <= now()
                 ORDER BY next_attempt_at, id
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED),
               claimed AS (
                 UPDATE webhook_deliveries d
                 SET state = 'delivering', attempts = d.attempts + 1, last_attempt_at = now()
                 FROM due WHERE d.id = due.id
                 RETURNING d.id, d.hook_id, d.event, d.guid, d.payload, d.attempts)
               SELECT c.id AS "id!", c.hook_id AS "hook_id!", c.event AS "event!",
                      c.guid AS "guid!", c.payload AS "payload!", c.attempts AS "attempts!",
                      h.url, h.content_type, h.secret
               FROM claimed c JOIN webhooks h ON h.id = c.hook_id
               ORDER BY c.id"#,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn record_attempt(&self, id: i64, r: AttemptRecord<'_>) -> Result<()> {
        sqlx::query!(
            "UPDATE webhook_deliveries
             SET state = $2, next_attempt_at = $3, request_headers = $4, response_status = $5,
                 response_headers = $6, response_body = $7, duration_ms = $8, error = $9,
                 delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END
             WHERE id = $1",
            id,
            r.state,
            r.next_attempt_at,
            r.request_headers,
            r.response_status,
            r.response_headers,
            r.response_body,
            r.duration_ms,
            r.error
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes the hook's finished deliveries beyond the newest `keep`, so the log stays bounded.
    pub async fn prune_deliveries(&self, hook_id: i64, keep: i64) -> Result<u64> {
        let done = sqlx::query!(
            "DELETE FROM webhook_deliveries
             WHERE hook_id = $1 AND state IN ('delivered', 'failed')
               AND id < (SELECT id FROM webhook_deliveries WHERE hook_id = $1
                         ORDER BY id DESC OFFSET $2 LIMIT 1)",
            hook_id,
            keep
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// At start: deliveries a crash cut off mid-attempt are due again at once. Returns how many.
    pub async fn retry_interrupted_deliveries(&self) -> Result<u64> {
        let done = sqlx::query!(
            "UPDATE webhook_deliveries
             SET state = 'retrying', next_attempt_at = now(),
                 error = 'interrupted: the server stopped during this attempt'
             WHERE state = 'delivering'"
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
