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
    // Unreachable objects (a mistaken force-push) go to a cruft pack and are kept two weeks,
    // since bare repositories have no reflog to recover them from.
    &[
        "repack",
        "-d",
        "-q",
        "--cruft",
        "--cruft-expiration=2.weeks.ago",
        "--write-bitmap-index",
    ],
    &["commit-graph", "write", "--reachable", "--changed-paths"],
    &["pack-refs", "--all", "--prune"],
];

pub struct Upkeep {
    runner: GitRunner,
    delay: Duration,
    /// Last push time per repository folder that has upkeep pending.
    pending: Mutex<HashMap<PathBuf, Instant>>,
    /// Held while upkeep runs in a folder, and by whoever moves the folder (rename, delete):
    /// git writing a commit-graph into a folder being moved would recreate half of it.
    folders: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl Upkeep {
    pub fn new(runner: GitRunner, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            runner,
            delay,
            pending: Mutex::new(HashMap::new()),
            folders: Mutex::new(HashMap::new()),
        })
    }

    /// Waits for upkeep running in `dir` to finish and keeps it from starting until the guard
    /// is dropped; upkeep of a folder that is gone by then is skipped.
    pub async fn hold(&self, dir: &RepoDir) -> tokio::sync::OwnedMutexGuard<()> {
        self.folder_lock(dir.path()).lock_owned().await
    }

    fn folder_lock(&self, path: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut folders = self.folders.lock().expect("upkeep lock is never poisoned");
        if folders.len() > 10_000 {
            // Old entries are only idle locks; keep the map bounded.
            folders.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        Arc::clone(folders.entry(path.to_path_buf()).or_default())
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

    /// Waits for a quiet spell, runs the steps, and goes round again if pushes arrived during
    /// the run. The entry stays in `pending` until then, so one repository never has two
    /// repacks at once.
    async fn wait_then_run(self: Arc<Self>, key: PathBuf, dir: RepoDir) {
        loop {
            loop {
                let last = self.last_push(&key);
                let due = last + self.delay;
                if Instant::now() >= due {
                    break;
                }
                tokio::time::sleep_until(due).await;
            }
            let started = Instant::now();
            {
                let _folder = self.folder_lock(&key).lock_owned().await;
                if !key.join("HEAD").exists() {
                    // Renamed or deleted meanwhile: nothing to keep up here.
                    self.pending
                        .lock()
                        .expect("upkeep lock is never poisoned")
                        .remove(&key);
                    return;
                }
                for step in STEPS {
                    if let Err(e) = self.runner.run_in(&dir, step).await {
                        tracing::warn!(repo = %key.display(), error = %e, "repository upkeep failed");
                        break;
                    }
                }
            }
            tracing::info!(repo = %key.display(), "repository upkeep done");
            let mut pending = self.pending.lock().expect("upkeep lock is never poisoned");
            if pending.get(&key).is_some_and(|last| *last <= started) {
                pending.remove(&key);
                return;
            }
        }
    }

    fn last_push(&self, key: &PathBuf) -> Instant {
        let pending = self.pending.lock().expect("upkeep lock is never poisoned");
        *pending
            .get(key)
            .expect("only the repository's own task removes its entry")
    }
}
