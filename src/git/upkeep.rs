//! Keeps repositories fast as they grow: after pushes, once a repository has been quiet for a
//! while, repack it with a reachability bitmap and write a commit-graph with changed-path
//! filters. Debounced per repository so a burst of pushes costs one repack.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{GitRunner, RepoDir};

/// The upkeep steps after the repack, in order; each is git's own command through the runner.
const STEPS: &[&[&str]] = &[
    &["commit-graph", "write", "--reachable", "--changed-paths"],
    &["pack-refs", "--all", "--prune"],
];

/// The repack that starts upkeep. Unreachable objects (a mistaken force-push, a deleted
/// branch) go to a cruft pack and are deleted once older than `prune_after_days`: bare
/// repositories have no reflog to recover them from, and pages never show them (they serve
/// only what the refs reach), so the grace period is for the operator alone.
fn repack_args(prune_after_days: u32) -> Vec<String> {
    [
        "repack",
        "-d",
        "-q",
        "--cruft",
        &format!("--cruft-expiration={prune_after_days}.days.ago"),
        "--write-bitmap-index",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// What `admin repo purge` runs: every unreachable object deleted now, whatever its age (a
/// secret was pushed), then the commit-graph and refs as upkeep leaves them. The reflogs go
/// first (bare repositories normally keep none, but one configured to would hold the commit).
pub const PURGE_STEPS: &[&[&str]] = &[
    &["reflog", "expire", "--expire=now", "--all"],
    &["repack", "-a", "-d", "-q", "--write-bitmap-index"],
    &["prune", "--expire=now"],
    &["commit-graph", "write", "--reachable", "--changed-paths"],
    &["pack-refs", "--all", "--prune"],
];

/// A quarantine folder younger than this may belong to a push still running (a push's git
/// has `git_timeout`, an hour by default); older ones were left by a killed push.
const QUARANTINE_LIVE: Duration = Duration::from_secs(3600);

/// A quarantine folder (`objects/tmp_objdir-incoming-*`) younger than `QUARANTINE_LIVE`.
fn recent_quarantine(repo: &std::path::Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(repo.join("objects")).ok()?;
    entries.flatten().map(|e| e.path()).find(|path| {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let quarantine = name.starts_with("tmp_objdir-incoming-") || name.starts_with("incoming-");
        quarantine
            && std::fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < QUARANTINE_LIVE))
    })
}

pub struct Upkeep {
    runner: GitRunner,
    delay: Duration,
    prune_after_days: u32,
    /// Last push time per repository folder that has upkeep pending.
    pending: Mutex<HashMap<PathBuf, Instant>>,
    /// Held while upkeep runs in a folder, and by whoever moves the folder (rename, delete):
    /// git writing a commit-graph into a folder being moved would recreate half of it.
    folders: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl Upkeep {
    pub fn new(runner: GitRunner, delay: Duration, prune_after_days: u32) -> Arc<Self> {
        Arc::new(Self {
            runner,
            delay,
            prune_after_days,
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
                let repack = repack_args(self.prune_after_days);
                let repack: Vec<&str> = repack.iter().map(String::as_str).collect();
                for step in std::iter::once(repack.as_slice()).chain(STEPS.iter().copied()) {
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

    /// Deletes every object no ref of `dir` reaches, now (`admin repo purge`, after a secret
    /// was pushed), and the history answers kept about deleted commits. Refused while a push
    /// into the repository may be running: `prune --expire=now` would delete the objects it
    /// is landing (git's own warning for `gc --prune=now`).
    pub async fn purge(&self, dir: &RepoDir) -> anyhow::Result<()> {
        let _folder = self.hold(dir).await;
        if let Some(folder) = recent_quarantine(dir.path()) {
            anyhow::bail!(
                "a push into this repository may be running ({} is less than {} minutes old); \
                 try again once it is done",
                folder.display(),
                QUARANTINE_LIVE.as_secs() / 60
            );
        }
        for step in PURGE_STEPS {
            self.runner.run_in(dir, step).await?;
        }
        super::kept::KeptStore::remove_all(dir.path())?;
        Ok(())
    }

    fn last_push(&self, key: &PathBuf) -> Instant {
        let pending = self.pending.lock().expect("upkeep lock is never poisoned");
        *pending
            .get(key)
            .expect("only the repository's own task removes its entry")
    }
}
