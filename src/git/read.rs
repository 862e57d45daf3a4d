//! Reading repositories for the web pages: the cache above the readers (per-repository handles
//! and every kept answer, see `history_cache`, shared by all requests), which opens a `Reader`
//! and hands it its stores as `reader::Stores`. The readers and walkers never name this file,
//! so nothing in the room depends back on it; it depends on them (the walks' limits) and on
//! the stores below them.

use std::sync::Arc;

use super::handles::{Handles, Opened};
use super::history_cache::{Blames, FolderWalks, HistoryCache};
use super::jobs::Jobs;
use super::lru::Lru;
use super::reach_set::Reachability;
use super::reader::{EntryMemo, Stores};
use super::ref_listings::RefListings;

pub use super::reader::api::{
    CommitDetail, ContentEntry, Contents, GitEntryView, MAX_LINK_TARGET, RefTarget, Signature,
    TagDetail, TreeListing,
};
pub use super::reader::{MIN_ID_LEN, PathEntry, Reader};
pub use super::view::{
    BlobView, CommitId, CommitInfo, EntryKind, Folder, MAX_LISTED, RefInfo, Resolved, TreeEntry,
};
use super::{CacheLimits, GitError, RepoDir, blame, last_commit};

/// What the (commit, path) memo of the pages may hold. An entry weighs its path plus ~150
/// bytes of keys and bookkeeping: a megabyte remembers ~5,000 file views.
const ENTRY_MEMO_BYTES: usize = 1 << 20;

/// Cached per-repository handles and the history pages' answers (see `history_cache`), shared
/// by all requests.
pub struct ReadCache {
    repos: Handles,
    pub(super) history: HistoryCache,
    pub(super) folder_walks: FolderWalks,
    pub(super) blames: Blames,
    /// The branch/tag switcher's names, kept while the ref folders are unchanged.
    pub(super) ref_listings: RefListings,
    /// What a (commit, path) names, for the pages: true forever (a commit never changes), and
    /// it saves inflating the commit and every tree on the path on each view of a file.
    entries: EntryMemo,
    /// Which commits each repository's refs reach (see `reach`).
    pub(super) reach: Reachability,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self::new(CacheLimits::default())
    }
}

impl ReadCache {
    pub fn new(limits: CacheLimits) -> Self {
        Self {
            repos: Handles::default(),
            history: HistoryCache::new(limits),
            folder_walks: Jobs::new(last_commit::MAX_FOLDER_WALKS),
            blames: Jobs::new(blame::MAX_BLAMES),
            ref_listings: Default::default(),
            entries: std::sync::Mutex::new(Lru::new(ENTRY_MEMO_BYTES)),
            reach: Default::default(),
        }
    }

    pub fn open(self: &Arc<Self>, dir: &RepoDir) -> Result<Reader, GitError> {
        self.repos.sweep_while(self, |c| &c.repos);
        let repo = self.repos.get(dir.path())?;
        Ok(Reader {
            repo,
            cache: Arc::clone(self) as Arc<dyn Stores>,
        })
    }

    /// Drops the cached handle of a repository that is deleted or renamed, so a new repository
    /// later made at the same path is never read through the old one's handle.
    pub fn forget(&self, dir: &RepoDir) {
        self.repos.forget(dir.path());
    }

    /// Runs `f` on the repository's reader, trying a gix error once more: gix's object store,
    /// shared between threads, can briefly report an object missing while another thread loads
    /// the index of a pack that upkeep (or a push) just wrote (gitoxide discussion #1412); git
    /// itself retries a lookup once for the same reason. Reads have no side effects.
    pub fn read<T>(
        self: &Arc<Self>,
        dir: &RepoDir,
        f: impl Fn(&Reader) -> Result<T, GitError>,
    ) -> Result<T, GitError> {
        match self.open(dir).and_then(|r| f(&r)) {
            Err(GitError::Gix(e)) => {
                tracing::debug!(error = %e, "repository read failed; trying once more");
                self.open(dir).and_then(|r| f(&r))
            }
            done => done,
        }
    }
}

impl Stores for ReadCache {
    fn history(&self) -> &HistoryCache {
        &self.history
    }
    fn folder_walks(&self) -> &FolderWalks {
        &self.folder_walks
    }
    fn blames(&self) -> &Blames {
        &self.blames
    }
    fn ref_listings(&self) -> &RefListings {
        &self.ref_listings
    }
    fn entries(&self) -> &EntryMemo {
        &self.entries
    }
    fn reach(&self) -> &Reachability {
        &self.reach
    }
    fn shared_handle(&self, path: &std::path::Path) -> Result<(gix::Repository, Opened), GitError> {
        self.repos.get_opened(path)
    }
}

#[cfg(test)]
mod tests;
