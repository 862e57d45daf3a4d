//! The mirror worker: syncs due push mirrors, then due pull mirrors, one at a time (so no
//! mirror's syncs overlap), looking for due ones every second. A push queues its push mirrors in
//! its own transaction; pull mirrors are due by their interval or "sync now".

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
    if let Err(e) = forge.resume_pull_mirrors().await {
        tracing::warn!(error = %e, "pull mirrors: looking for interrupted syncs");
    }
    loop {
        loop {
            let step = tokio::select! {
                () = stop.cancelled() => return,
                step = async {
                    let pushed = forge.sync_next_push_mirror().await?;
                    let pulled = forge.sync_next_pull_mirror().await?;
                    Ok::<bool, crate::domain::Error>(pushed || pulled)
                } => step,
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
