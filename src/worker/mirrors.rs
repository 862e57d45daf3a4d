//! The push mirror worker: syncs due mirrors one at a time (so no mirror's syncs overlap),
//! looking for due ones every second; a push queues its mirrors in its own transaction.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::domain::Forge;

const POLL: Duration = Duration::from_secs(1);

/// Runs until `stop`; a sync cut off by the stop runs again at the next start.
pub async fn run(forge: Arc<Forge>, stop: CancellationToken) {
    match forge.resume_push_mirrors().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(n, "push mirror syncs cut off by a stop run again"),
        Err(e) => tracing::warn!(error = %e, "push mirrors: looking for interrupted syncs"),
    }
    loop {
        loop {
            let step = tokio::select! {
                () = stop.cancelled() => return,
                step = forge.sync_next_push_mirror() => step,
            };
            match step {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "push mirrors: a sync step failed");
                    break;
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(POLL) => {}
        }
    }
}
