//! Webhooks, defined by repository admins: their settings (this file), the payloads and the
//! queueing callers do inside their own transaction (`queue.rs`, `payload.rs`), and the outbox
//! the delivery worker drains (`outbox.rs`). Settings, deliveries and tests take an admin grant.

mod hooks;
mod outbox;
mod payload;
mod queue;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::Config;

pub use hooks::WebhookSettings;
pub use outbox::{AttemptOutcome, ClaimedDelivery, Delivery};
pub use queue::PreparedPush;

/// What the webhook parts of the forge share: the worker's settings and its wake-up.
pub struct WebhookService {
    wake: Arc<Notify>,
    /// `[webhook]`'s retry delay and timeout; replaced by a reload (SIGHUP). The allow list
    /// lives in `Egress`, the one check.
    timing: RwLock<(Duration, Duration)>,
    /// For the links in payloads: the configuration with the listeners' bound ports.
    config: Arc<Config>,
}

impl WebhookService {
    pub fn new(config: Arc<Config>) -> Self {
        Self {
            wake: Arc::new(Notify::new()),
            timing: RwLock::new((config.webhook.retry_base, config.webhook.timeout)),
            config,
        }
    }

    /// The first retry's delay (later ones are multiples of it).
    pub fn retry_base(&self) -> Duration {
        self.timing.read().expect("never poisoned").0
    }

    /// Upper bound on one delivery attempt; the worker picks a change up before its next send.
    pub fn timeout(&self) -> Duration {
        self.timing.read().expect("never poisoned").1
    }

    /// Uses `webhook`'s retry delay and timeout from now on (a reload; the allow list is
    /// `Egress`'s).
    pub fn set_timing(&self, webhook: &crate::config::WebhookConfig) {
        *self.timing.write().expect("never poisoned") = (webhook.retry_base, webhook.timeout);
    }

    fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config)
    }

    /// The public base URL payloads link to.
    pub fn base_url(&self) -> String {
        self.config().base_url.clone()
    }

    /// Resolves when someone called `wake_up`, or at once if they did since the last wait.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

impl super::Forge {
    /// Tells the delivery worker that deliveries were queued. Call after the transaction that
    /// queued them commits; the worker also polls every few seconds, so a missed call only
    /// delays.
    pub fn webhook_wakeup(&self) {
        self.webhooks.wake.notify_one();
    }
}

/// A random UUID (version 4) for `X-GitHub-Delivery` and `webhook-id`.
fn new_guid() -> super::Result<String> {
    let mut bytes = [0u8; 16];
    super::fill_random(&mut bytes)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = super::hex(&bytes);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn guids_look_like_uuids() {
        let g = super::new_guid().unwrap();
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
        assert_ne!(g, super::new_guid().unwrap());
    }
}
