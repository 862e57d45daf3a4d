//! How much work waits, for `/metrics`: one round trip, three counts over partial indexes.

use super::{Db, Result};

/// Deploy runs queued, webhook deliveries not yet settled, and the oldest of those in seconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueSizes {
    pub deploys_queued: i64,
    pub webhooks_pending: i64,
    pub webhook_oldest_secs: f64,
}

impl Db {
    pub async fn queue_sizes(&self) -> Result<QueueSizes> {
        let row = sqlx::query!(
            r#"SELECT
                 (SELECT count(*) FROM deploy_runs WHERE status = 'queued') AS "deploys!",
                 (SELECT count(*) FROM webhook_deliveries
                   WHERE state IN ('queued', 'retrying', 'delivering')) AS "webhooks!",
                 (SELECT EXTRACT(EPOCH FROM now() - min(created_at))::float8 FROM webhook_deliveries
                   WHERE state IN ('queued', 'retrying', 'delivering')) AS "oldest""#
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueSizes {
            deploys_queued: row.deploys,
            webhooks_pending: row.webhooks,
            webhook_oldest_secs: row.oldest.unwrap_or(0.0),
        })
    }
}
