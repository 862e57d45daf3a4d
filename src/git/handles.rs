//! Open repositories, shared by requests and history walks. gix maps pack files into memory
//! and keeps them mapped while a repository's object store lives, so every page of a pack that
//! a walk reads stays counted in the process's resident memory: browsing 1,000 pages of an
//! 80,000-commit history left half a gigabyte resident, all of it the kernel's page cache. A
//! handle is therefore shared for a short while only: after `LIFETIME` the next request opens
//! the repository afresh (about a millisecond), and a sweeper drops idle handles, so an old
//! store and its maps go once the requests and walks using it end. The kernel keeps the pages
//! cached; they just stop counting against labforge.
//!
//! Pages of history read fast, though: fifty commit pages a second of an 80,000-commit history
//! map ~100 MiB of pack a second, so within one lifetime a shared handle still held 290 MiB.
//! `retire_open_handles` (called by the memory watch when mapped files hold too much) makes
//! every handle open now old at once: the next request and the next step of every walk open
//! afresh, and the sweeper drops the retired ones within `SWEEP_EVERY`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::GitError;

pub(super) const LIFETIME: Duration = Duration::from_secs(2);
/// How often the sweeper drops handles past their lifetime or retired.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// Handles opened before the last `retire_open_handles` are old, whatever their age.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Makes every repository handle open now old (in every server of this process): requests and
/// walks open their repositories afresh, and the pack pages the old handles mapped are let go
/// as soon as the reads using them end.
pub fn retire_open_handles() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The current generation of handles (see `retire_open_handles`).
pub(super) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// When a handle was opened, to tell when it is old.
#[derive(Clone, Copy)]
pub(super) struct Opened {
    at: Instant,
    generation: u64,
}

impl Opened {
    pub fn now() -> Self {
        Self {
            at: Instant::now(),
            generation: generation(),
        }
    }

    /// Older than `lifetime`, or retired since.
    pub fn is_old(&self, lifetime: Duration) -> bool {
        self.at.elapsed() >= lifetime || self.generation != generation()
    }

    #[cfg(test)]
    pub fn age_by(&mut self, by: Duration) {
        self.at -= by;
    }
}
/// At most this many repositories stay open at once.
const MAX_OPEN: usize = 256;

/// The repository at `path`, opened now, shared with nothing: a background walk reads through
/// handles of its own, so the handles requests share are dropped after `LIFETIME` whatever
/// walks still run.
pub(super) fn open_fresh(path: &Path) -> Result<gix::Repository, GitError> {
    let opts = gix::open::Options::isolated().strict_config(false);
    gix::open_opts(path, opts).map_err(GitError::gix)
}

#[derive(Default)]
pub(super) struct Handles {
    open: Mutex<HashMap<PathBuf, (gix::ThreadSafeRepository, Opened)>>,
    sweeping: std::sync::OnceLock<()>,
}

impl Handles {
    /// A handle on the repository at `path` for this thread.
    pub fn get(&self, path: &Path) -> Result<gix::Repository, GitError> {
        self.get_opened(path).map(|(repo, _)| repo)
    }

    /// `get`, with when the shared handle was opened: a walk holding it lets it go once that
    /// is old, as the requests do.
    pub fn get_opened(&self, path: &Path) -> Result<(gix::Repository, Opened), GitError> {
        let mut open = self.open.lock().expect("never poisoned");
        let fresh = open
            .get(path)
            .is_some_and(|(_, opened)| !opened.is_old(LIFETIME));
        if !fresh {
            if open.len() >= MAX_OPEN {
                open.clear();
            }
            let repo = open_fresh(path)?;
            open.insert(path.to_path_buf(), (repo.into_sync(), Opened::now()));
        }
        let (repo, opened) = open.get(path).expect("inserted above");
        Ok((repo.to_thread_local(), *opened))
    }

    /// Drops the handle of `path` (its repository was deleted or renamed).
    pub fn forget(&self, path: &Path) {
        self.open.lock().expect("never poisoned").remove(path);
    }

    /// Drops the handles past their lifetime or retired, every `SWEEP_EVERY`, for as long as
    /// `owner` lives.
    pub fn sweep_while<T: Send + Sync + 'static>(
        &self,
        owner: &Arc<T>,
        handles: fn(&T) -> &Handles,
    ) {
        self.sweeping.get_or_init(|| {
            let owner: Weak<T> = Arc::downgrade(owner);
            let spawned = std::thread::Builder::new()
                .name("repo-handles".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(SWEEP_EVERY);
                        let Some(owner) = owner.upgrade() else { break };
                        handles(&owner)
                            .open
                            .lock()
                            .expect("never poisoned")
                            .retain(|_, (_, opened)| !opened.is_old(LIFETIME));
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not start the repository handle sweeper");
            }
        });
    }
}
