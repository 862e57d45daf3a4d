//! The mirror worker: `[mirror] parallel_syncs` loops, each syncing the due push mirror, then
//! the due pull mirror, that it claims, looking for due ones every second. A claim marks the
//! mirror syncing in the same statement (`FOR UPDATE SKIP LOCKED`), so no mirror's syncs overlap
//! while different repositories' syncs run side by side: a far side that never answers holds
//! one loop until the sync's deadline, not every repository's mirrors. A push queues its push
//! mirrors in its own transaction; pull mirrors are due by their interval or "sync now".

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
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
    let mut loops = JoinSet::new();
    for _ in 0..forge.mirror_config().parallel_syncs {
        loops.spawn(sync_loop(Arc::clone(&forge), stop.clone()));
    }
    // Dropping the set at a stop ends the loops, and with them their git processes.
    stop.cancelled().await;
    loops.abort_all();
    while loops.join_next().await.is_some() {}
}

/// One of the parallel loops: claims and syncs until nothing is due, then waits a poll.
async fn sync_loop(forge: Arc<Forge>, stop: CancellationToken) {
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
                    tracing::warn!(error = %e, "mirrors: a sync step failed");
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
