//! Open repositories, shared by requests and history walks. gix maps pack files into memory
//! and keeps them mapped while a repository's object store lives, so every page of a pack that
//! a walk reads stays counted in the process's resident memory: browsing 1,000 pages of an
//! 80,000-commit history left half a gigabyte resident, all of it the kernel's page cache. A
//! handle is therefore shared for a short while only: after `LIFETIME` the next request opens
//! the repository afresh (about a millisecond), and a sweeper drops idle handles, so an old
//! store and its maps go once the requests and walks using it end. The kernel keeps the pages
//! cached; they just stop counting against labforge.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::GitError;

const LIFETIME: Duration = Duration::from_secs(2);
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
    open: Mutex<HashMap<PathBuf, (gix::ThreadSafeRepository, Instant)>>,
    sweeping: std::sync::OnceLock<()>,
}

impl Handles {
    /// A handle on the repository at `path` for this thread.
    pub fn get(&self, path: &Path) -> Result<gix::Repository, GitError> {
        let mut open = self.open.lock().expect("never poisoned");
        let fresh = open
            .get(path)
            .is_some_and(|(_, opened)| opened.elapsed() < LIFETIME);
        if !fresh {
            if open.len() >= MAX_OPEN {
                open.clear();
            }
            let repo = open_fresh(path)?;
            open.insert(path.to_path_buf(), (repo.into_sync(), Instant::now()));
        }
        Ok(open.get(path).expect("inserted above").0.to_thread_local())
    }

    /// Drops the handle of `path` (its repository was deleted or renamed).
    pub fn forget(&self, path: &Path) {
        self.open.lock().expect("never poisoned").remove(path);
    }

    /// Drops the handles past their lifetime, every `LIFETIME`, for as long as `owner` lives.
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
                        std::thread::sleep(LIFETIME);
                        let Some(owner) = owner.upgrade() else { break };
                        handles(&owner)
                            .open
                            .lock()
                            .expect("never poisoned")
                            .retain(|_, (_, opened)| opened.elapsed() < LIFETIME);
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not start the repository handle sweeper");
            }
        });
    }
}
