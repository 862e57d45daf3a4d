//! The webhook delivery worker: takes due deliveries from the outbox (several at once), sends
//! them, and records each attempt. Woken at once when deliveries are queued, and polls as well,
//! so retries come due and a missed wake-up only delays.

mod send;
mod sign;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::domain::Forge;
use crate::domain::webhooks::ClaimedDelivery;
use crate::model::DeliveryState;

/// Deliveries in flight at once.
const PARALLEL: usize = 4;
/// How often due retries are looked for without a wake-up.
const POLL: Duration = Duration::from_secs(2);

/// Runs until `stop`, then lets attempts in flight finish (each is bounded by the timeout).
pub async fn run(forge: Arc<Forge>, stop: CancellationToken) {
    match forge.retry_interrupted_webhooks().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(n, "webhook deliveries cut off by a stop are retried"),
        Err(e) => tracing::warn!(error = %e, "webhooks: looking for interrupted deliveries"),
    }
    let mut sender = match send::Sender::new(
        Arc::clone(forge.egress()),
        forge.webhook_service().timeout(),
    ) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(error = %e, "webhooks: cannot build the HTTP client; no deliveries");
            return;
        }
    };
    let mut running = JoinSet::new();
    loop {
        // A reload changed the timeout: a new client for the next sends (those in flight keep
        // theirs).
        if sender.timeout() != forge.webhook_service().timeout() {
            match send::Sender::new(
                Arc::clone(forge.egress()),
                forge.webhook_service().timeout(),
            ) {
                Ok(s) => sender = Arc::new(s),
                Err(e) => tracing::error!(error = %e, "webhooks: rebuilding the HTTP client"),
            }
        }
        let room = PARALLEL - running.len();
        if room > 0 {
            match forge.claim_webhook_deliveries(room).await {
                Ok(batch) => {
                    for d in batch {
                        running.spawn(deliver(Arc::clone(&forge), Arc::clone(&sender), d));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhooks: claiming deliveries"),
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = forge.webhook_service().woken() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
    while running.join_next().await.is_some() {}
}

async fn deliver(forge: Arc<Forge>, sender: Arc<send::Sender>, d: ClaimedDelivery) {
    let outcome = sender.send(&d).await;
    match forge.record_webhook_attempt(&d, &outcome).await {
        Ok(state) => {
            let level_ok = state == DeliveryState::Delivered;
            (forge.metrics()).webhook_delivered(if level_ok { "delivered" } else { "failed" });
            if level_ok {
                tracing::info!(
                    delivery = d.id, hook = d.hook_id, attempt = d.attempt,
                    status = ?outcome.status, ms = outcome.duration.as_millis() as u64,
                    "webhook delivered"
                );
            } else {
                tracing::warn!(
                    delivery = d.id, hook = d.hook_id, attempt = d.attempt,
                    status = ?outcome.status, error = outcome.error.as_deref().unwrap_or(""),
                    next = state.as_str(), "webhook attempt failed"
                );
            }
        }
        Err(e) => tracing::error!(delivery = d.id, error = %e, "webhooks: recording an attempt"),
    }
}
