//! The deliveries: what admins see and redeliver, and what the worker claims and reports back.
//! Retries back off from the configured base: 1, 4, 10, 30 and 80 times it (with the default
//! 30 s: 30 s, 2 min, 5 min, 15 min, 40 min), so six attempts over about an hour.

use std::time::Duration;

use time::OffsetDateTime;

use super::super::{Admin, Error, Forge, Grant, Result};
use super::new_guid;
use crate::model::{ContentType, DeliveryState};
use crate::storage::{AttemptRecord, DeliveryRow, NewDelivery};

/// Delay before retry n (1-based) as a multiple of the base.
const BACKOFF: [u32; 5] = [1, 4, 10, 30, 80];
/// The first attempt and one per backoff step.
const MAX_ATTEMPTS: i32 = BACKOFF.len() as i32 + 1;
/// Deliveries shown per hook.
const LISTED: i64 = 50;
/// Finished deliveries kept per hook; older ones are deleted as new ones finish.
const KEPT: i64 = 200;

/// A delivery as its hook's page and the API show it: the stored row.
pub type Delivery = DeliveryRow;

impl DeliveryRow {
    /// Where the delivery is in its life (an unknown word reads as failed).
    pub fn state(&self) -> DeliveryState {
        DeliveryState::parse(&self.state).unwrap_or(DeliveryState::Failed)
    }

    /// When the next attempt is due, while one still is.
    pub fn next_attempt(&self) -> Option<OffsetDateTime> {
        matches!(
            self.state(),
            DeliveryState::Queued | DeliveryState::Retrying
        )
        .then_some(self.next_attempt_at)
    }
}

/// A delivery the worker took, with its hook's target and secret.
#[derive(Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub hook_id: i64,
    pub event: String,
    pub guid: String,
    pub payload: String,
    /// This attempt's number, from 1.
    pub attempt: i32,
    pub url: String,
    pub content_type: ContentType,
    pub secret: String,
}

/// What one attempt sent and got back. Success is a 2xx status; anything else (a 3xx included:
/// redirects are not followed) is a failure.
#[derive(Debug, Clone, Default)]
pub struct AttemptOutcome {
    pub request_headers: Vec<(String, String)>,
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub body_head: String,
    pub duration: Duration,
    pub error: Option<String>,
    /// `allowed_hosts` refused the target: retrying cannot help until the operator changes
    /// the setting, so the delivery fails at once with that reason.
    pub refused: bool,
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

fn header_lines(headers: &[(String, String)]) -> String {
    headers.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

impl Forge {
    /// The hook's newest deliveries (50).
    pub async fn webhook_deliveries(
        &self,
        grant: &Grant<Admin>,
        hook_id: i64,
    ) -> Result<Vec<Delivery>> {
        self.webhook(grant, hook_id).await?;
        Ok(self.db.deliveries(hook_id, LISTED).await?)
    }

    /// Queues the delivery's exact payload again, as a new delivery (new id and guid).
    pub async fn redeliver_webhook(
        &self,
        grant: &Grant<Admin>,
        hook_id: i64,
        delivery_id: i64,
    ) -> Result<i64> {
        let repo = grant.repo();
        self.webhook(grant, hook_id).await?;
        let old = self
            .db
            .delivery(hook_id, delivery_id)
            .await?
            .ok_or(Error::NotFound)?;
        let mut tx = self.db.begin().await?;
        let id = tx
            .insert_delivery(NewDelivery {
                hook_id,
                event: &old.event,
                action: &old.action,
                guid: &new_guid()?,
                payload: &old.payload,
                redelivery_of: Some(old.id),
            })
            .await?;
        tx.commit().await?;
        self.webhook_wakeup();
        tracing::info!(repo = %repo.full_name(), hook = hook_id, of = delivery_id, id, "webhook redelivery queued");
        Ok(id)
    }

    /// Takes up to `n` due deliveries for sending (see `storage::claim_deliveries`).
    pub async fn claim_webhook_deliveries(&self, n: usize) -> Result<Vec<ClaimedDelivery>> {
        let rows = self
            .db
            .claim_deliveries(i64::try_from(n).unwrap_or(i64::MAX))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| ClaimedDelivery {
                id: r.id,
                hook_id: r.hook_id,
                event: r.event,
                guid: r.guid,
                payload: r.payload,
                attempt: r.attempts,
                url: r.url,
                content_type: r.content_type.parse().unwrap_or(ContentType::Json),
                secret: r.secret,
            })
            .collect())
    }

    /// Stores the attempt and decides what comes next: delivered, a retry after the backoff,
    /// or failed after the last attempt.
    pub async fn record_webhook_attempt(
        &self,
        claimed: &ClaimedDelivery,
        outcome: &AttemptOutcome,
    ) -> Result<DeliveryState> {
        let now = OffsetDateTime::now_utc();
        let (state, next) = if outcome.succeeded() {
            (DeliveryState::Delivered, now)
        } else if claimed.attempt >= MAX_ATTEMPTS || outcome.refused {
            (DeliveryState::Failed, now)
        } else {
            let step = usize::try_from(claimed.attempt - 1)
                .unwrap_or(0)
                .min(BACKOFF.len() - 1);
            let delay = self.webhooks.retry_base() * BACKOFF[step];
            (DeliveryState::Retrying, now + delay)
        };
        let error = match (&outcome.error, outcome.status) {
            (Some(e), _) => e.clone(),
            (None, Some(s)) if !outcome.succeeded() => {
                if (300..400).contains(&s) {
                    format!("HTTP {s}: redirects are not followed")
                } else {
                    format!("HTTP {s}")
                }
            }
            _ => String::new(),
        };
        self.db
            .record_attempt(
                claimed.id,
                AttemptRecord {
                    state: state.as_str(),
                    next_attempt_at: next,
                    request_headers: &header_lines(&outcome.request_headers),
                    response_status: outcome.status.map(i32::from),
                    response_headers: &header_lines(&outcome.response_headers),
                    response_body: &outcome.body_head,
                    duration_ms: i32::try_from(outcome.duration.as_millis()).unwrap_or(i32::MAX),
                    error: &error,
                },
            )
            .await?;
        if state != DeliveryState::Retrying {
            self.db.prune_deliveries(claimed.hook_id, KEPT).await?;
        }
        Ok(state)
    }

    /// At start: deliveries a crash cut off mid-attempt are retried at once.
    pub async fn retry_interrupted_webhooks(&self) -> Result<u64> {
        Ok(self.db.retry_interrupted_deliveries().await?)
    }
}
