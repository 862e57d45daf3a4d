//! Keeps repositories fast as they grow: after pushes, once a repository has been quiet for a
//! while, repack it with a reachability bitmap and write a commit-graph with changed-path
//! filters. Debounced per repository so a burst of pushes costs one repack.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{GitRunner, RepoDir};

/// The upkeep steps, in order; each is git's own command through the runner.
const STEPS: &[&[&str]] = &[
    &["repack", "-a", "-d", "-q", "--write-bitmap-index"],
    &["commit-graph", "write", "--reachable", "--changed-paths"],
    &["pack-refs", "--all", "--prune"],
];

pub struct Upkeep {
    runner: GitRunner,
    delay: Duration,
    /// Last push time per repository folder that has upkeep pending.
    pending: Mutex<HashMap<PathBuf, Instant>>,
}

impl Upkeep {
    pub fn new(runner: GitRunner, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            runner,
            delay,
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// Notes a push; starts a waiter for the repository unless one is already waiting.
    pub fn schedule(self: &Arc<Self>, dir: RepoDir) {
        let key = dir.path().to_path_buf();
        let first = {
            let mut pending = self.pending.lock().expect("upkeep lock is never poisoned");
            pending.insert(key.clone(), Instant::now()).is_none()
        };
        if first {
            let this = Arc::clone(self);
            tokio::spawn(async move { this.wait_then_run(key, dir).await });
        }
    }

    async fn wait_then_run(self: Arc<Self>, key: PathBuf, dir: RepoDir) {
        loop {
            let last = {
                let pending = self.pending.lock().expect("upkeep lock is never poisoned");
                *pending.get(&key).expect("only this task removes the entry")
            };
            let due = last + self.delay;
            if Instant::now() >= due {
                break;
            }
            tokio::time::sleep_until(due).await;
        }
        self.pending
            .lock()
            .expect("upkeep lock is never poisoned")
            .remove(&key);
        for step in STEPS {
            if let Err(e) = self.runner.run_in(&dir, step).await {
                tracing::warn!(repo = %key.display(), error = %e, "repository upkeep failed");
                return;
            }
        }
        tracing::info!(repo = %key.display(), "repository repacked");
    }
}
